package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

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

// dialogViewSearchText is the same text in dialogViewSelect (alias d).
const dialogViewSearchText = `(d.client_name || ' ' || d.client_username || ' ' || d.chat_id || ' ' || d.client_phone)`

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
	nameWords := searchWords(f.Text)
	// Dialogs and messages are two independent reads: on the pool they
	// go at once (a transaction has one connection: one after the other).
	var dErr, mErr error
	dialogs := func() {
		indexed := -1
		if phones == nil {
			var common []float64
			if common, dErr = s.nameCommonness(ctx, nameWords); dErr != nil {
				return
			}
			indexed = indexWord(nameWords, common)
		}
		out.Dialogs, dErr = s.searchDialogs(ctx, portalID, f, nameWords, phones, indexed)
	}
	messages := func() {
		var n int
		if n, mErr = s.countMessages(ctx, portalID, words); mErr != nil || n == 0 {
			return // none (a name, a number): no second read
		}
		if out.Messages, mErr = s.searchMessages(ctx, portalID, f, words, n); mErr == nil {
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

// commonName is the share of dialogs from which a name word is so common
// that walking the dialogs in the list's order finds a page sooner than
// reading the word's matches from the trigram index.
const commonName = 0.05

// countMessages counts the messages holding words, up to rareWords.
func (s *Store) countMessages(ctx context.Context, portalID int64, words []string) (int, error) {
	args := []any{portalID}
	for _, w := range words {
		args = append(args, w)
	}
	var n int
	if err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM (SELECT 1 FROM messages WHERE portal_id = $1 AND `+wordsMatch(words, 2)+
		` LIMIT `+strconv.Itoa(rareWords)+`) x`, args...); err != nil {
		return 0, fmt.Errorf("store: search messages: count: %w", err)
	}
	return n, nil
}

// nameStatsAge is how long the dialogs' name statistics are kept before
// being read again (ANALYZE renews them far less often).
const nameStatsAge = 5 * time.Minute

// nameStats is what ANALYZE keeps on the dialogs_search expression: its
// most common values with their shares, and a histogram of the others
// (every value, up to a hundred, on a small table).
type nameStats struct {
	mu       sync.Mutex
	read     time.Time
	mcv      []string
	mcf      []float64
	hist     []string
	nullFrac float64
	known    bool
}

// nameCommonness estimates, for each word, the share of dialogs whose
// names and ids hold it, from the statistics as the planner does for a
// LIKE (the matching common values' shares, plus the rest's share times
// the matching part of the histogram). nil without statistics. Only a plan
// rests on it, never a result.
func (s *Store) nameCommonness(ctx context.Context, words []string) ([]float64, error) {
	st := s.stats
	if st == nil {
		return nil, nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.read.IsZero() || time.Since(st.read) > nameStatsAge {
		var row struct {
			MCV      pq.StringArray  `db:"mcv"`
			MCF      pq.Float64Array `db:"mcf"`
			Hist     pq.StringArray  `db:"hist"`
			NullFrac float64         `db:"null_frac"`
		}
		err := s.db.GetContext(ctx, &row, `SELECT most_common_vals::text::text[] AS mcv, most_common_freqs::float8[] AS mcf,
			histogram_bounds::text::text[] AS hist, null_frac::float8 AS null_frac
			FROM pg_stats WHERE schemaname = current_schema() AND tablename = 'dialogs_search' AND attname = 'expr' LIMIT 1`)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			st.known = false
		case err != nil:
			return nil, fmt.Errorf("store: search: name statistics: %w", err)
		default:
			st.known = len(row.MCV)+len(row.Hist) > 0 && len(row.MCV) == len(row.MCF)
			st.mcv, st.mcf, st.hist, st.nullFrac = row.MCV, row.MCF, row.Hist, row.NullFrac
			for i := range st.mcv {
				st.mcv[i] = strings.ToLower(st.mcv[i])
			}
			for i := range st.hist {
				st.hist[i] = strings.ToLower(st.hist[i])
			}
		}
		st.read = time.Now()
	}
	if !st.known {
		return nil, nil
	}
	out := make([]float64, len(words))
	for i, w := range words {
		w = strings.ToLower(w)
		rest := 1 - st.nullFrac
		for j, v := range st.mcv {
			rest -= st.mcf[j]
			if strings.Contains(v, w) {
				out[i] += st.mcf[j]
			}
		}
		if len(st.hist) > 0 && rest > 0 {
			n := 0
			for _, v := range st.hist {
				if strings.Contains(v, w) {
					n++
				}
			}
			out[i] += rest * float64(n) / float64(len(st.hist))
		}
	}
	return out, nil
}

// indexWord picks the name word to read from the trigram index: the
// rarest by the statistics (the longest among equals) of those with a
// trigram (three characters); the others are tested on its matches. -1:
// every word from the index (no statistics). len(words): none, walk the
// dialogs in order (no word has a trigram, or even the rarest is common).
func indexWord(words []string, common []float64) int {
	best := -1
	for i, w := range words {
		n := utf8.RuneCountInString(w)
		if n < 3 {
			continue
		}
		if best < 0 || common != nil && (common[i] < common[best] ||
			common[i] == common[best] && n > utf8.RuneCountInString(words[best])) ||
			common == nil && n > utf8.RuneCountInString(words[best]) {
			best = i
		}
	}
	switch {
	case best < 0:
		return len(words)
	case common == nil:
		return -1
	case common[best] >= commonName:
		return len(words)
	}
	return best
}

// searchDialogs finds dialogs by their client; indexed is indexWord's
// choice.
func (s *Store) searchDialogs(ctx context.Context, portalID int64, f SearchFilter, words, phones []string, indexed int) ([]DialogView, error) {
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
		// in the CRM contact's name. Only the indexed word is written as
		// the index's expression: read from the trigram index alone, its
		// matches are few; the index's AND of every word's trigrams reads
		// the long lists of a common word ("client") whole.
		var own, walk, contact []string
		for i, w := range words {
			p := arg(likeContains(w))
			if indexed < 0 || i == indexed {
				own = append(own, dialogSearchText+` ILIKE `+p)
			} else {
				// The same test, in a form no index matches.
				own = append(own, `(`+dialogSearchText+` || '') ILIKE `+p)
			}
			walk = append(walk, dialogViewSearchText+` ILIKE `+p)
			contact = append(contact, `ct.name ILIKE `+p)
		}
		if indexed == len(words) {
			// Common words: the general chat's order walked, each dialog
			// tested, until a page is found. The words in the index's own
			// expression, so the planner weighs them by its statistics (a
			// word no dialog holds: one scan rather than the walk); the
			// contact by EXISTS, a test on d alone (an OR over the joined
			// contact made the planner join and sort every dialog).
			where := []string{"d.portal_id = $1", "((" + strings.Join(walk, " AND ") +
				") OR d.contact_id IS NOT NULL AND EXISTS (SELECT 1 FROM contacts ct WHERE ct.portal_id = d.portal_id AND ct.id = d.contact_id AND " +
				strings.Join(contact, " AND ") + "))"}
			if f.Visible != nil {
				where = append(where, "("+f.Visible.condition(&args)+")")
			}
			return s.selectDialogViews(ctx, where, args)
		}
		branches = append(branches,
			`SELECT id FROM dialogs WHERE portal_id = $1 AND `+strings.Join(own, " AND "),
			`SELECT dd.id FROM contacts ct JOIN dialogs dd ON dd.portal_id = ct.portal_id AND dd.contact_id = ct.id
			WHERE ct.portal_id = $1 AND `+strings.Join(contact, " AND "))
	}
	// The ids as an array (an InitPlan, planned on its own): the view's
	// joins are then planned for a list of ids, a third of the planning
	// of the joins around a UNION, which cost more than running it.
	where := []string{"d.portal_id = $1", "d.id = ANY(ARRAY(" + strings.Join(branches, " UNION ") + "))"}
	if f.Visible != nil {
		where = append(where, "("+f.Visible.condition(&args)+")")
	}
	return s.selectDialogViews(ctx, where, args)
}

// selectDialogViews reads the found dialogs in the general chat's order, at
// most $2.
func (s *Store) selectDialogViews(ctx context.Context, where []string, args []any) ([]DialogView, error) {
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

// wordsMatch is the condition on a message's words, their placeholders
// from $first.
func wordsMatch(words []string, first int) string {
	var terms []string
	for i := range words {
		p := "$" + strconv.Itoa(first+i)
		// Either language's form of the word: a Russian word is stemmed
		// by the russian configuration, an English one by the english.
		terms = append(terms, `(plainto_tsquery('russian', `+p+`) || plainto_tsquery('english', `+p+`))`)
	}
	return "search_vector @@ (" + strings.Join(terms, " && ") + ")"
}

// searchMessages finds the newest messages holding words; n is their count
// up to rareWords (searchProbe).
func (s *Store) searchMessages(ctx context.Context, portalID int64, f SearchFilter, words []string, n int) ([]MessageView, error) {
	match := func(first int) string { return wordsMatch(words, first) }
	args := []any{portalID, f.Limit}
	for _, w := range words {
		args = append(args, w)
	}
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
		// The matches from the index (the fence as above), kept when their
		// dialog is among the visible ones, read first: a hash of ids from
		// the index alone (00018), not a dialog looked up per match; the
		// newest taken before the joins. The visibility is said again on
		// the joined dialog below.
		from = "FROM (SELECT * FROM (SELECT * FROM messages WHERE portal_id = $1 AND " + match(3) +
			" OFFSET 0) hits WHERE dialog_id IN (SELECT d.id FROM dialogs d WHERE d.portal_id = $1 AND (" +
			f.Visible.condition(&args) + ")) ORDER BY sent_at DESC, id DESC LIMIT $2) m"
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
