package app_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/relay24/relay24/bitrix/b24test"
)

// "Create dialog" for a client the employee sees may find the client's
// existing dialog on the channel; when that dialog is someone else's (its
// responsible person reassigned), it is 404 as any hidden dialog, not its
// Dialog JSON with the last message. A contact of another portal, or one he
// does not see, is 404 too, and the card's individual chat names such a
// contact without his phones.
func TestCreateDialogDoesNotOpenAHiddenDialog(t *testing.T) {
	r := newRelayEnv(t)
	tok := r.company()
	c7, d := r.clientOf(7, "79990007001")
	if _, err := r.App.Store.DB().Exec(`UPDATE dialogs SET responsible_id = 3 WHERE id = $1`, d); err != nil {
		t.Fatal(err)
	}
	if s, _ := r.dialogAs(tok[7], d); s != http.StatusNotFound {
		t.Fatalf("the reassigned dialog is visible to user 7: %d", s)
	}
	c3, _ := r.clientOf(3, "79990007003")
	wa := r.chans[r.WA.ChannelID]
	b := r.secondPortal("5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b")
	// A contact of portal B whose CRM id this portal's contacts do not have.
	bc := 0
	for bc == 0 || bc == c7 || bc == c3 {
		bc = b.P.AddContact(b24test.Contact{Name: "Чужой", AssignedByID: 1}).ID
	}
	if _, err := b.P.FireEvent(r.ctx, "ONCRMCONTACTADD", map[string]any{"FIELDS": map[string]any{"ID": strconv.Itoa(bc)}}, 1); err != nil {
		t.Fatal(err)
	}
	r.settle()
	for _, c := range []struct {
		name    string
		contact int
		code    string
	}{
		{"his client's dialog, now someone else's", c7, "dialog_not_found"},
		{"a client he does not see", c3, "contact_not_found"},
		{"another portal's client", bc, "contact_not_found"},
	} {
		var out struct {
			Dialog *dialogJSON `json:"dialog"`
			apiError
		}
		s := r.api("POST", "/api/v1/dialogs", tok[7], map[string]any{"contact_id": c.contact, "channel_id": wa}, &out)
		if s != http.StatusNotFound || out.Dialog != nil || out.Error.Code != c.code {
			t.Errorf("%s: %d %+v %+v, want 404 %s", c.name, s, out.Dialog, out.Error, c.code)
		}
	}

	// The individual chat of user 3's client, opened by user 7: the contact
	// is named, his phone is not.
	var card struct {
		Contacts []struct {
			ID      int64            `json:"id"`
			Handles []map[string]any `json:"handles"`
		} `json:"contacts"`
	}
	if s := r.api("GET", "/api/v1/dialogs?entity_type=contact&entity_id="+strconv.Itoa(c3), tok[7], nil, &card); s != http.StatusOK {
		t.Fatalf("individual chat: %d", s)
	}
	if len(card.Contacts) != 1 || len(card.Contacts[0].Handles) != 0 {
		t.Fatalf("a hidden contact's handles: %+v", card.Contacts)
	}
}
