package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/lib/pq"

	"github.com/relay24/relay24/identity"
)

// SearchFilter is what the search box asks for: the text, what the access
// rules show (nil: every dialog, as in DialogFilter) and how many of each
// kind of result.
type SearchFilter struct {
	Text    string
	Visible *Visibility
	Limit   int
}

// SearchResult lists the dialogs whose client matches (in the general
// chat's order) and the messages whose text matches (newest first), each
// message with its dialog.
type SearchResult struct {
	Dialogs  []DialogView
	Messages []MessageView
	// DialogOf holds the dialog of each message, by dialog id.
	DialogOf map[int64]*DialogView
}

// maxSearchWords bounds the words of a query (each is a condition).
const maxSearchWords = 8

// dialogSearchText is the expression of the dialogs_search trigram index
// (migration 00010): the query must repeat it exactly to use it.
const dialogSearchText = `(client_name || ' ' || client_username || ' ' || chat_id || ' ' || client_phone)`

// searchWords splits a query into words: letters and digits, the rest
// separates them.
func searchWords(q string) []string {
	words := strings.FieldsFunc(q, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	if len(words) > maxSearchWords {
		words = words[:maxSearchWords]
	}
	return words
}

// phoneDigits tells a query that is a phone number, in any spelling
// (+7 (999) 123-45-67, 8 999 …, 79991234567) or a part of one (123-45-67),
// and returns the digits to look for: the canonical number and, when they
// differ, the digits as typed (a part of a number).
func phoneDigits(q string) []string {
	digits := 0
	for _, r := range q {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == ' ' || r == '+' || r == '(' || r == ')' || r == '-' || r == '.' || r == '\u00a0':
		default:
			return nil
		}
	}
	if digits < 5 {
		return nil
	}
	raw := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, q)
	out := []string{raw}
	if n := identity.NormalizePhone(q); n != "" && n != raw {
		out = append(out, n)
	}
	return out
}

// likeContains is a LIKE pattern matching s anywhere, its wildcards escaped.
func likeContains(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

// Search finds dialogs by their client (name, username, chat id, phone in
// any spelling; the CRM contact's name) and messages by word in Russian
// and English forms, only among what f.Visible shows, only in the portal.
// Dialogs come in the general chat's order, messages newest first, at most
// f.Limit (1 to 50, default 20) of each.
func (s *Store) Search(ctx context.Context, portalID int64, f SearchFilter) (*SearchResult, error) {
	if f.Limit <= 0 || f.Limit > 50 {
		f.Limit = 20
	}
	out := &SearchResult{DialogOf: map[int64]*DialogView{}}
	words := searchWords(f.Text)
	phones := phoneDigits(strings.TrimSpace(f.Text))
	if len(words) == 0 {
		return out, nil
	}
	if phones != nil {
		// A number is one word, however it was written: the canonical one.
		words = phones[len(phones)-1:]
	}
	// Dialogs and messages are two independent reads: on the pool they
	// go at once (a transaction has one connection: one after the other).
	var dErr, mErr error
	dialogs := func() { out.Dialogs, dErr = s.searchDialogs(ctx, portalID, f, searchWords(f.Text), phones) }
	messages := func() {
		if out.Messages, mErr = s.searchMessages(ctx, portalID, f, words); mErr == nil {
			mErr = s.dialogsOf(ctx, portalID, out)
		}
	}
	if s.tx == nil {
		done := make(chan struct{})
		go func() { defer close(done); dialogs() }()
		messages()
		<-done
	} else {
		dialogs()
		messages()
	}
	if dErr != nil {
		return nil, dErr
	}
	if mErr != nil {
		return nil, mErr
	}
	return out, nil
}

// dialogsOf reads the dialogs of the found messages.
func (s *Store) dialogsOf(ctx context.Context, portalID int64, out *SearchResult) error {
	var ids []int64
	for _, m := range out.Messages {
		if _, ok := out.DialogOf[m.DialogID]; !ok {
			out.DialogOf[m.DialogID] = nil
			ids = append(ids, m.DialogID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var ds []DialogView
	if err := s.db.SelectContext(ctx, &ds, dialogViewSelect+` WHERE d.portal_id = $1 AND d.id = ANY($2)`, portalID, Int64s(ids)); err != nil {
		return fmt.Errorf("store: search: dialogs of messages: %w", err)
	}
	for i := range ds {
		out.DialogOf[ds[i].ID] = &ds[i]
	}
	return nil
}

func (s *Store) searchDialogs(ctx context.Context, portalID int64, f SearchFilter, words, phones []string) ([]DialogView, error) {
	args := []any{portalID, f.Limit}
	arg := func(x any) string {
		args = append(args, x)
		return "$" + strconv.Itoa(len(args))
	}
	var branches []string
	if phones != nil {
		canon := phones[len(phones)-1]
		if len(canon) >= 10 {
			// A whole number: the dialog's chat id or phone (by its digits)
			// is one of the spellings, or a CRM contact has it.
			digits := arg(pq.StringArray(phones))
			branches = append(branches,
				`SELECT id FROM dialogs WHERE portal_id = $1 AND chat_id = ANY(`+digits+`)`,
				`SELECT id FROM dialogs WHERE portal_id = $1 AND client_phone <> '' AND regexp_replace(client_phone, '[^0-9]', '', 'g') = ANY(`+digits+`)`)
		} else {
			// A part of a number: anywhere in the dialog's ids and phone.
			var or []string
			for _, p := range phones {
				or = append(or, dialogSearchText+` LIKE `+arg(likeContains(p)))
			}
			branches = append(branches, `SELECT id FROM dialogs WHERE portal_id = $1 AND (`+strings.Join(or, " OR ")+`)`)
		}
		branches = append(branches, `SELECT dd.id FROM client_identities ci
			JOIN dialogs dd ON dd.portal_id = ci.portal_id AND dd.contact_id = ci.owner_id
			WHERE ci.portal_id = $1 AND ci.kind = 'phone' AND ci.value = `+arg(canon)+` AND ci.owner_type = 'contact'`)
	} else {
		// Every word somewhere in the dialog's names and ids, or every word
		// in the CRM contact's name.
		var own, contact []string
		for _, w := range words {
			p := arg(likeContains(w))
			own = append(own, dialogSearchText+` ILIKE `+p)
			contact = append(contact, `ct.name ILIKE `+p)
		}
		branches = append(branches,
			`SELECT id FROM dialogs WHERE portal_id = $1 AND `+strings.Join(own, " AND "),
			`SELECT dd.id FROM contacts ct JOIN dialogs dd ON dd.portal_id = ct.portal_id AND dd.contact_id = ct.id
			WHERE ct.portal_id = $1 AND `+strings.Join(contact, " AND "))
	}
	where := []string{"d.portal_id = $1", "d.id IN (" + strings.Join(branches, " UNION ") + ")"}
	if f.Visible != nil {
		where = append(where, "("+f.Visible.condition(&args)+")")
	}
	q := dialogViewSelect + ` WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY d.unanswered DESC, d.last_message_at DESC NULLS LAST, d.id DESC LIMIT $2`
	var out []DialogView
	if err := s.db.SelectContext(ctx, &out, q, args...); err != nil {
		return nil, fmt.Errorf("store: search dialogs: %w", err)
	}
	return out, nil
}

// rareWords is the count of matches below which a word is rare: its
// matches are taken from the word index and sorted; a word in more
// messages has its newest matches found by walking the messages newest
// first. (Counting up to it on the index takes a millisecond or two: the
// index hands over matches cheaply, sorting them all is what costs.)
var rareWords = 5000

func (s *Store) searchMessages(ctx context.Context, portalID int64, f SearchFilter, words []string) ([]MessageView, error) {
	// match is the condition on the words, their placeholders from $first.
	match := func(first int) string {
		var terms []string
		for i := range words {
			p := "$" + strconv.Itoa(first+i)
			// Either language's form of the word: a Russian word is stemmed
			// by the russian configuration, an English one by the english.
			terms = append(terms, `(plainto_tsquery('russian', `+p+`) || plainto_tsquery('english', `+p+`))`)
		}
		return "search_vector @@ (" + strings.Join(terms, " && ") + ")"
	}
	args := []any{portalID}
	for _, w := range words {
		args = append(args, w)
	}
	var n int
	if err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM (SELECT 1 FROM messages WHERE portal_id = $1 AND `+match(2)+
		` LIMIT `+strconv.Itoa(rareWords)+`) x`, args...); err != nil {
		return nil, fmt.Errorf("store: search messages: count: %w", err)
	}
	args = append([]any{portalID, f.Limit}, args[1:]...)
	from := "FROM messages m"
	where := []string{"m.portal_id = $1"}
	unrestricted := f.Visible == nil || (f.Visible.All && f.Visible.Channels == nil)
	switch {
	case n < rareWords && unrestricted:
		// The matches from the index (behind a fence: else the planner may
		// walk every message newest first for a rare word), the newest of
		// them taken before the joins.
		from = "FROM (SELECT * FROM (SELECT * FROM messages WHERE portal_id = $1 AND " + match(3) +
			" OFFSET 0) hits ORDER BY sent_at DESC, id DESC LIMIT $2) m"
	case n < rareWords:
		// The matches from the index, then sorted (the fence keeps the
		// planner from walking every message newest first for a rare word).
		from = "FROM (SELECT * FROM messages WHERE portal_id = $1 AND " + match(3) + " OFFSET 0) m"
		// Said again outside: the planner then expects few rows from the
		// fence and looks their dialogs up one by one (measured: a third
		// of the time of a hash join over the visible dialogs).
		where = append(where, "m."+match(3))
	default:
		where = append(where, "m."+match(3))
	}
	if f.Visible != nil && !unrestricted {
		where = append(where, "("+f.Visible.condition(&args)+")")
	}
	q := strings.Replace(messageViewSelect, "FROM messages m", from, 1) + ` WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY m.sent_at DESC, m.id DESC LIMIT $2`
	var out []MessageView
	if err := s.db.SelectContext(ctx, &out, q, args...); err != nil {
		return nil, fmt.Errorf("store: search messages: %w", err)
	}
	return out, nil
}
