package app_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/relay24/relay24/bitrix/b24test"
)

// The individual chat answers for the cards this portal has, and only those:
// a card it does not have is 404 (CONTRACT §5), not an empty chat.
func TestIndividualChatOfCards(t *testing.T) {
	r := newRelayEnv(t)
	r.clientWrites(r.WA, "whatsapp", "79161234567", "Здравствуйте")
	r.settle()
	var list struct {
		Dialogs []struct {
			ID      int64  `json:"id"`
			DealID  *int64 `json:"deal_id"`
			Contact *struct {
				ID int64 `json:"id"`
			} `json:"contact"`
		} `json:"dialogs"`
	}
	if s := r.api("GET", "/api/v1/dialogs", r.Admin, nil, &list); s != http.StatusOK || len(list.Dialogs) != 1 {
		t.Fatalf("general chat: %d %+v", s, list)
	}
	d := list.Dialogs[0]
	if d.DealID == nil || d.Contact == nil {
		t.Fatalf("the new client got no deal or contact: %+v", d)
	}
	card := func(entity string, id int64) (int, []dialogJSON) {
		t.Helper()
		var out struct {
			Dialogs []dialogJSON `json:"dialogs"`
		}
		s := r.api("GET", "/api/v1/dialogs?entity_type="+entity+"&entity_id="+strconv.FormatInt(id, 10), r.Admin, nil, &out)
		return s, out.Dialogs
	}
	for _, c := range []struct {
		entity string
		id     int64
	}{{"deal", *d.DealID}, {"contact", d.Contact.ID}} {
		s, got := card(c.entity, c.id)
		if s != http.StatusOK || len(got) != 1 || got[0].ID != d.ID || got[0].Initial == nil || !*got[0].Initial {
			t.Fatalf("%s %d: %d %+v", c.entity, c.id, s, got)
		}
	}

	// A deal with no contacts yet: an empty chat, not an error.
	empty := r.P.AddDeal(b24test.Deal{Title: "Без контактов"})
	if s, got := card("deal", int64(empty.ID)); s != http.StatusOK || len(got) != 0 {
		t.Fatalf("deal without contacts: %d %+v", s, got)
	}
	// A contact created a moment ago, before any event or sync brought it.
	fresh := r.P.AddContact(b24test.Contact{Name: "Новый", LastName: "Клиент"})
	if s, got := card("contact", int64(fresh.ID)); s != http.StatusOK || len(got) != 0 {
		t.Fatalf("fresh contact: %d %+v", s, got)
	}

	// Cards this portal does not have, including one that only another
	// portal has.
	other := r.OAuth.NewPortal(b24test.PortalOptions{})
	t.Cleanup(other.Close)
	foreign := other.AddDeal(b24test.Deal{ID: 90001, Title: "Чужая сделка"})
	for _, c := range []struct {
		entity string
		id     int64
	}{{"deal", 999999}, {"lead", 999999}, {"contact", 999999}, {"deal", int64(foreign.ID)}} {
		if s, _ := card(c.entity, c.id); s != http.StatusNotFound {
			t.Errorf("%s %d this portal does not have: %d, want 404", c.entity, c.id, s)
		}
	}
	if s, _ := card("invoice", 1); s != http.StatusBadRequest {
		t.Errorf("unknown entity type: %d", s)
	}
}
