package app_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

type searchJSON struct {
	Dialogs  []dialogJSON `json:"dialogs"`
	Messages []struct {
		Message struct {
			ID       int64  `json:"id"`
			DialogID int64  `json:"dialog_id"`
			Text     string `json:"text"`
		} `json:"message"`
		Dialog dialogJSON `json:"dialog"`
	} `json:"messages"`
	Error *struct {
		Code string `json:"code"`
	} `json:"error"`
}

func (r *relayEnv) search(token, q string, extra ...string) (int, searchJSON) {
	r.t.Helper()
	var out searchJSON
	s := r.api("GET", "/api/v1/search?q="+url.QueryEscape(q)+strings.Join(extra, ""), token, nil, &out)
	return s, out
}

func (s searchJSON) dialogIDs() []int64 {
	var ids []int64
	for _, d := range s.Dialogs {
		ids = append(ids, d.ID)
	}
	return ids
}

func (s searchJSON) messageDialogs() []int64 {
	var ids []int64
	for _, m := range s.Messages {
		ids = append(ids, m.Dialog.ID)
	}
	return ids
}

// GET /api/v1/search finds a client by a phone in any spelling and by name,
// and a message by another form of its word, each message with its dialog;
// under the same access rules as the general chat: an "own" salesperson
// does not find another's client, "none" finds nothing, and another
// portal's session finds nothing of this portal. q is required and
// bounded, limit is 1 to 50.
func TestSearchAPI(t *testing.T) {
	r := newRelayEnv(t)
	tok := r.company()
	_, d7 := r.clientOf(7, "79990000007")
	_, d3 := r.clientOf(3, "79990000003")
	r.clientWrites(r.WA, "whatsapp", "79990000007", "Когда будет доставка?")
	r.clientWrites(r.WA, "whatsapp", "79990000003", "Спасибо за доставку")
	r.settle()

	// Portal B, with a client of the same words.
	b := r.secondPortal("cccccccccccccccccccccccccccccccc")
	if _, err := b.Acc.ClientWrites(r.ctx, b.WA.ChannelID, "whatsapp", "79990000007", wztestIncoming("доставка в портал B")); err != nil {
		t.Fatal(err)
	}
	r.settle()
	if len(r.dialogs(b.Admin)) != 1 {
		t.Fatal("portal B has no dialog")
	}
	// With statistics, as autovacuum keeps them: a name is searched by its
	// rarest word or, common or short, by walking the list (store.Search);
	// the access rules hold on those paths too.
	if _, err := r.App.Store.DB().Exec(`ANALYZE dialogs`); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		who      string
		token    string
		q        string
		dialogs  []int64
		messages []int64 // the messages' dialogs, newest first
	}{
		{"admin, formatted phone", r.Admin, "+7 (999) 000-00-07", []int64{d7}, []int64{d7}}, // "hello from 79990000007"
		{"admin, phone with 8", r.Admin, "8 999 000 00 03", []int64{d3}, []int64{d3}},
		{"admin, contact's name", r.Admin, "client of 3", []int64{d3}, nil},
		{"admin, another form of the word", r.Admin, "доставкой", nil, []int64{d3, d7}},
		{"department head", tok[3], "доставка", nil, []int64{d3, d7}},
		{"own finds his client", tok[7], "+7 999 000-00-07", []int64{d7}, []int64{d7}},
		{"own does not find another's client by phone", tok[7], "+7 999 000-00-03", nil, nil},
		{"own does not find another's client by name", tok[7], "Client of 3", nil, nil},
		{"own finds his client by name", tok[7], "Client of 7", []int64{d7}, nil},
		{"own does not find another's client by a common word", tok[7], "client", []int64{d7}, nil},
		{"own finds only his messages", tok[7], "доставка", nil, []int64{d7}},
		{"none finds nothing", tok[8], "доставка", nil, nil},
		{"another portal finds nothing of this one", b.Admin, "+7 999 000-00-03", nil, nil},
	} {
		s, out := r.search(c.token, c.q)
		if s != http.StatusOK {
			t.Errorf("%s: %q: %d", c.who, c.q, s)
			continue
		}
		if got := out.dialogIDs(); !slices.Equal(got, c.dialogs) {
			t.Errorf("%s: %q: dialogs %v, want %v", c.who, c.q, got, c.dialogs)
		}
		if got := out.messageDialogs(); !slices.Equal(got, c.messages) {
			t.Errorf("%s: %q: messages in dialogs %v, want %v", c.who, c.q, got, c.messages)
		}
		for _, m := range out.Messages {
			if m.Message.DialogID != m.Dialog.ID || !strings.Contains(m.Message.Text, "доставк") && !strings.Contains(m.Message.Text, "hello from 7999000000") {
				t.Errorf("%s: %q: message %+v", c.who, c.q, m)
			}
		}
	}
	// Portal B's own message is B's alone.
	if _, out := r.search(b.Admin, "доставка"); len(out.Messages) != 1 || strings.Contains(out.Messages[0].Message.Text, "Когда") {
		t.Errorf("portal B's search: %+v", out.Messages)
	}

	for _, c := range []struct {
		q, extra, code string
	}{
		{"", "", "search_empty"},
		{"   ", "", "search_empty"},
		{strings.Repeat("д", 201), "", "search_too_long"},
		{"доставка", "&limit=0", "bad_limit"},
		{"доставка", "&limit=51", "bad_limit"},
	} {
		if s, out := r.search(r.Admin, c.q, c.extra); s != http.StatusBadRequest || out.Error == nil || out.Error.Code != c.code {
			t.Errorf("q=%q%s: %d %+v, want 400 %s", c.q, c.extra, s, out.Error, c.code)
		}
	}
	if s, out := r.search(r.Admin, "доставка", "&limit=1"); s != http.StatusOK || len(out.Messages) != 1 {
		t.Errorf("limit=1: %d, %d messages", s, len(out.Messages))
	}
	if s, _ := r.search("", "доставка"); s != http.StatusUnauthorized {
		t.Errorf("without a session: %d", s)
	}
}
