package store_test

import (
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/relay24/relay24/identity"
	"github.com/relay24/relay24/store"
)

// Search finds a client by name (any case, a part of it, the CRM contact's
// name), by phone in any spelling and by chat id, and messages by word in
// another grammatical form, Russian or English, newest first; only what the
// visibility shows, never another portal's, at most the limit.
func TestSearch(t *testing.T) {
	l := newLab(t)
	p := l.portal("search")
	other := l.portal("search-other")
	ch := l.channel(p, "whatsapp")
	tg := l.channel(p, "telegram")
	och := l.channel(other, "whatsapp")
	// Contact 10 (Пётр Сидоров) is user 2's, with a second number in the CRM.
	if err := l.s.UpsertContacts(l.ctx, p, []store.Contact{
		{ID: 10, Name: "Пётр Сидоров", AssignedByID: 2, Identities: []identity.ID{{Kind: identity.Phone, Value: "79161112233"}}},
	}, nil); err != nil {
		t.Fatal(err)
	}
	open := func(portal, channel int64, chatID, name, username string, contact, responsible int64) *store.Dialog {
		t.Helper()
		var d *store.Dialog
		err := l.s.Tx(l.ctx, func(tx *store.Store) error {
			var err error
			d, _, err = tx.UpsertDialog(l.ctx, portal, store.DialogKey{ChannelID: channel, ChatType: "whatsapp", ChatID: chatID},
				store.ClientInfo{Name: name, Username: username})
			if err != nil {
				return err
			}
			return tx.ResolveDialog(l.ctx, d.ID, contact, 0, 0, responsible)
		})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	write := func(d *store.Dialog, minute int, text string) int64 {
		t.Helper()
		var id int64
		err := l.s.Tx(l.ctx, func(tx *store.Store) error {
			m, _, err := tx.InsertMessage(l.ctx, &store.Message{PortalID: d.PortalID, DialogID: d.ID, ChannelID: d.ChannelID, Direction: "in",
				ProviderMessageID: sql.NullString{String: fmt.Sprintf("wz-%d", l.next()), Valid: true},
				Kind:              "text", Text: text, Status: "inbound", SentAt: l.at(minute)})
			if err != nil {
				return err
			}
			id = m.ID
			_, err = tx.RecomputeDialog(l.ctx, d.ID)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	ivan := open(p, ch, "79991234567", "Иван Петров", "", 0, 1)
	petr := open(p, ch, "79035550000", "", "", 10, 2)
	anna := open(p, tg, "123456789", "Anna", "anna_k", 0, 0)
	stranger := open(other, och, "79991234567", "Иван Петров", "", 0, 1)
	var told *store.Dialog // a Telegram client who shared his phone, as the gateway wrote it
	if err := l.s.Tx(l.ctx, func(tx *store.Store) error {
		var err error
		told, _, err = tx.UpsertDialog(l.ctx, p, store.DialogKey{ChannelID: tg, ChatType: "telegram", ChatID: "555000111"},
			store.ClientInfo{Name: "Олег", Phone: "+7 905 111-22-33"})
		return err
	}); err != nil {
		t.Fatal(err)
	}

	mIvan := write(ivan, 1, "Когда будет доставка?")
	mIvan2 := write(ivan, 5, "Оформим доставку завтра")
	mPetr := write(petr, 3, "Спасибо за доставку!")
	mAnna := write(anna, 4, "When are the deliveries coming?")
	write(ivan, 6, "hello")
	write(stranger, 7, "доставка тоже")

	all := &store.Visibility{All: true}
	own2 := &store.Visibility{People: []int64{2}}
	unassigned := &store.Visibility{Unassigned: true}
	onlyTG := &store.Visibility{All: true, Channels: []int64{tg}}
	for _, c := range []struct {
		name     string
		q        string
		vis      *store.Visibility
		limit    int
		dialogs  []int64
		messages []int64
	}{
		{"name", "Иван", all, 0, []int64{ivan.ID}, nil},
		{"name in another case, a part", "иван петр", all, 0, []int64{ivan.ID}, nil},
		{"CRM contact's name", "сидоров", all, 0, []int64{petr.ID}, nil},
		{"username", "anna_k", all, 0, []int64{anna.ID}, nil},
		{"formatted phone", "+7 (999) 123-45-67", all, 0, []int64{ivan.ID}, nil},
		{"phone written with 8", "8 999 123 45 67", all, 0, []int64{ivan.ID}, nil},
		{"phone digits", "79991234567", all, 0, []int64{ivan.ID}, nil},
		{"part of a number: every id holding it", "123-45-67", all, 0, []int64{ivan.ID, anna.ID}, nil},
		{"CRM contact's phone", "+7 916 111-22-33", all, 0, []int64{petr.ID}, nil},
		{"chat id", "123456789", all, 0, []int64{anna.ID}, nil},
		{"the phone a client shared, in another spelling", "8 (905) 111 22 33", all, 0, []int64{told.ID}, nil},
		{"russian word forms, newest first", "доставка", all, 0, nil, []int64{mIvan2, mPetr, mIvan}},
		{"another form", "доставкой", all, 0, nil, []int64{mIvan2, mPetr, mIvan}},
		{"english word forms", "delivery", all, 0, nil, []int64{mAnna}},
		{"every word must match", "доставку завтра", all, 0, nil, []int64{mIvan2}},
		{"limit", "доставка", all, 2, nil, []int64{mIvan2, mPetr}},
		{"own: only his dialogs", "доставка", own2, 0, nil, []int64{mPetr}},
		{"own: not another's client", "Иван", own2, 0, nil, nil},
		{"own: not another's client by phone", "+7 999 123-45-67", own2, 0, nil, nil},
		{"unassigned", "anna", unassigned, 0, []int64{anna.ID}, nil},
		{"channels", "delivery", onlyTG, 0, nil, []int64{mAnna}},
		{"channels hide", "доставка", onlyTG, 0, nil, nil},
		{"the zero visibility shows nothing", "доставка", &store.Visibility{}, 0, nil, nil},
		{"no match", "холодильник", all, 0, nil, nil},
		{"like wildcards are text", "%", all, 0, nil, nil},
		{"a letter is in names; a stop word in no message", "и", all, 0, []int64{ivan.ID, petr.ID}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := l.s.Search(l.ctx, p, store.SearchFilter{Text: c.q, Visible: c.vis, Limit: c.limit})
			if err != nil {
				t.Fatal(err)
			}
			var ms []int64
			for _, m := range res.Messages {
				ms = append(ms, m.ID)
				if d := res.DialogOf[m.DialogID]; d == nil || d.PortalID != p {
					t.Errorf("message %d comes without its dialog", m.ID)
				}
			}
			if got := viewIDs(res.Dialogs); !slices.Equal(got, c.dialogs) && (len(got) > 0 || len(c.dialogs) > 0) {
				t.Errorf("dialogs: got %v, want %v", got, c.dialogs)
			}
			if !slices.Equal(ms, c.messages) {
				t.Errorf("messages: got %v, want %v", ms, c.messages)
			}
		})
	}
	// Matches older than the newest thousand messages are found too (by the
	// word index, past the newest-first probe).
	if _, err := l.db.Exec(`INSERT INTO messages (portal_id, dialog_id, channel_id, direction, text, status, sent_at)
		SELECT $1, $2, $3, 'in', 'hello ' || g, 'inbound', $4::timestamptz + g * interval '1 second' FROM generate_series(1, 1500) g`,
		p, anna.ID, anna.ChannelID, l.at(100)); err != nil {
		t.Fatal(err)
	}
	res, err := l.s.Search(l.ctx, p, store.SearchFilter{Text: "доставкой", Visible: all})
	if got := func() (ids []int64) {
		for _, m := range res.Messages {
			ids = append(ids, m.ID)
		}
		return
	}(); err != nil || !slices.Equal(got, []int64{mIvan2, mPetr, mIvan}) {
		t.Errorf("behind 1500 newer messages: %v %v", got, err)
	}
	// Found the same whether the word counts as rare (its matches sorted)
	// or common (the messages walked newest first).
	for _, rare := range []int{5000, 2} {
		undo := store.SetRareWords(rare)
		for _, c := range []struct {
			q    string
			vis  *store.Visibility
			want []string
		}{
			{"hello", all, []string{"hello 1500", "hello 1499", "hello 1498"}},
			{"hello", own2, nil},
			{"доставки", own2, []string{"Спасибо за доставку!"}},
		} {
			res, err := l.s.Search(l.ctx, p, store.SearchFilter{Text: c.q, Visible: c.vis, Limit: 3})
			var got []string
			for _, m := range res.Messages {
				got = append(got, m.Text)
			}
			if err != nil || !slices.Equal(got, c.want) {
				t.Errorf("rare below %d: %q: %q %v, want %q", rare, c.q, got, err, c.want)
			}
		}
		undo()
	}

	// Inside a transaction (one connection) it finds the same.
	if err := l.s.Tx(l.ctx, func(tx *store.Store) error {
		res, err := tx.Search(l.ctx, p, store.SearchFilter{Text: "доставка", Visible: all})
		if err == nil && (len(res.Messages) != 3 || res.DialogOf[res.Messages[0].DialogID] == nil) {
			t.Errorf("in a transaction: %d messages", len(res.Messages))
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}

	// The other portal finds only its own.
	res, err = l.s.Search(l.ctx, other, store.SearchFilter{Text: "доставка", Visible: all})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Messages) != 1 || res.Messages[0].DialogID != stranger.ID {
		t.Errorf("the other portal found %+v", res.Messages)
	}
	res, err = l.s.Search(l.ctx, other, store.SearchFilter{Text: "сидоров", Visible: all})
	if err != nil || len(res.Dialogs) != 0 {
		t.Errorf("the other portal found this portal's contact: %v %v", res, err)
	}
}

// With statistics (ANALYZE), a name is read from the trigram index by its
// rarest word and the others tested on its matches, and common or short
// words walk the dialogs in the list's order: both find what the rules
// show and nothing else (a salesperson never another's client, never
// another portal's), hostile queries included (one-letter words, LIKE's
// own characters).
func TestSearchPlans(t *testing.T) {
	l := newLab(t)
	p := l.portal("plans")
	other := l.portal("plans-other")
	ch := l.channel(p, "whatsapp")
	och := l.channel(other, "whatsapp")
	if err := l.s.UpsertContacts(l.ctx, p, []store.Contact{{ID: 30, Name: "Zq Особый", AssignedByID: 1}}, nil); err != nil {
		t.Fatal(err)
	}
	open := func(portal, channel int64, chatID, name string, contact, responsible int64) *store.Dialog {
		t.Helper()
		var d *store.Dialog
		err := l.s.Tx(l.ctx, func(tx *store.Store) error {
			var err error
			d, _, err = tx.UpsertDialog(l.ctx, portal, store.DialogKey{ChannelID: channel, ChatType: "whatsapp", ChatID: chatID},
				store.ClientInfo{Name: name})
			if err != nil {
				return err
			}
			return tx.ResolveDialog(l.ctx, d.ID, contact, 0, 0, responsible)
		})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	// Clients 101…160: the even ones are user 2's.
	byN := map[int]*store.Dialog{}
	for n := 101; n <= 160; n++ {
		byN[n] = open(p, ch, fmt.Sprintf("7955500%04d", n), fmt.Sprintf("Client %d", n), 0, int64(1+(n+1)%2))
	}
	special := open(p, ch, "79666000000", "", 30, 1) // known by its CRM contact's name only
	open(other, och, "79555000105", "Client 105", 0, 2)
	if _, err := l.db.Exec(`ANALYZE dialogs`); err != nil {
		t.Fatal(err)
	}
	common, err := l.s.NameCommonness(l.ctx, []string{"Client", "105", "ъ"})
	if err != nil || len(common) != 3 {
		t.Fatalf("commonness: %v %v", common, err)
	}
	if common[0] < 0.5 || common[1] > 0.05 || common[2] != 0 {
		t.Errorf("commonness of client, 105, ъ: %v", common)
	}
	if got := store.IndexWord([]string{"Client", "105"}, common[:2]); got != 1 {
		t.Errorf("index word of Client 105: %d, want 1", got)
	}
	if got := store.IndexWord([]string{"Client"}, common[:1]); got != 1 {
		t.Errorf("index word of a common word: %d, want 1 (walk)", got)
	}
	if got := store.IndexWord([]string{"и", "ab"}, []float64{0, 0}); got != 2 {
		t.Errorf("index word of short words: %d, want 2 (walk)", got)
	}
	if got := store.IndexWord([]string{"Client", "105"}, nil); got != -1 {
		t.Errorf("index word without statistics: %d, want -1", got)
	}

	all := &store.Visibility{All: true}
	own2 := &store.Visibility{People: []int64{2}}
	search := func(q string, vis *store.Visibility, limit int) []store.DialogView {
		t.Helper()
		res, err := l.s.Search(l.ctx, p, store.SearchFilter{Text: q, Visible: vis, Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range res.Dialogs {
			if d.PortalID != p {
				t.Errorf("%q: another portal's dialog %d", q, d.ID)
			}
			if vis == own2 && (!d.ResponsibleID.Valid || d.ResponsibleID.Int64 != 2) {
				t.Errorf("%q: the salesperson found dialog %d (%s), not his", q, d.ID, d.ClientName)
			}
		}
		return res.Dialogs
	}
	for _, c := range []struct {
		q    string
		vis  *store.Visibility
		want []int64
	}{
		{"Client 105", all, []int64{byN[105].ID}},
		{"client 105", own2, nil},
		{"CLIENT 106", own2, []int64{byN[106].ID}},
		{"105 Client", all, []int64{byN[105].ID}},
		{"Client 105 zz", all, nil},             // every word tested, not only the indexed one
		{"zq", all, []int64{special.ID}},        // walked: short, by the contact's name
		{"особый zq", all, []int64{special.ID}}, // indexed: the contacts' branch
		{"zq", own2, nil},
		{"q w z r t y u j", all, nil},
		{`%_\`, all, nil},
	} {
		got := viewIDs(search(c.q, c.vis, 50))
		if !slices.Equal(got, c.want) && (len(got) > 0 || len(c.want) > 0) {
			t.Errorf("%q: got %v, want %v", c.q, got, c.want)
		}
	}
	// A common word walks the list: a page of the salesperson's own only.
	if got := search("client", own2, 50); len(got) != 30 {
		t.Errorf("client as user 2: %d dialogs, want his 30", len(got))
	}
	if got := search("client", all, 0); len(got) != 20 {
		t.Errorf("client: %d dialogs, want a page of 20", len(got))
	}
	// Eight one-letter words, LIKE's characters among them: each word
	// anywhere, % and _ never wildcards.
	for _, q := range []string{"c l i e n t 1 5", "%1_5%", `1\5`} {
		for _, d := range search(q, all, 50) {
			if text := d.ClientName + " " + d.ChatID; !strings.Contains(text, "1") || !strings.Contains(text, "5") {
				t.Errorf("%q found %q", q, text)
			}
		}
	}
	if got := search("c l i e n t 1 5", all, 50); len(got) < 6 {
		t.Errorf("c l i e n t 1 5: %d dialogs, want those of 1 and 5", len(got))
	}
}
