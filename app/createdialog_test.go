package app_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/relay24/relay24/bitrix/b24test"
)

// "Create dialog" with a phone that is already another client's dialog on
// the channel says so (409 handle_belongs_to_other_client, naming that
// client to whom may see them) instead of opening that client's dialog
// under this one; a phone of nobody's, or the client's own, opens theirs.
func TestCreateDialogWithAnotherClientsHandle(t *testing.T) {
	r := newRelayEnv(t)
	tok := r.company()
	taken := "79990004444"
	owner, ownerDialog := r.clientOf(3, taken) // user 7 (own) does not see user 3's clients
	b := r.P.AddContact(b24test.Contact{Name: "Борис", LastName: "Второй", AssignedByID: 7})
	if _, err := r.P.FireEvent(r.ctx, "ONCRMCONTACTADD", map[string]any{"FIELDS": map[string]any{"ID": strconv.Itoa(b.ID)}}, 1); err != nil {
		t.Fatal(err)
	}
	r.settle()
	wa := r.chans[r.WA.ChannelID]
	type answer struct {
		Dialog *dialogJSON `json:"dialog"`
		Error  *struct {
			Code     string `json:"code"`
			Message  string `json:"message"`
			ClientID *int64 `json:"client_id"`
			Client   string `json:"client"`
			DialogID *int64 `json:"dialog_id"`
		} `json:"error"`
	}
	create := func(token string, contact int, chatID string) (int, answer) {
		t.Helper()
		var out answer
		s := r.api("POST", "/api/v1/dialogs", token, map[string]any{"contact_id": contact, "channel_id": wa, "chat_id": chatID}, &out)
		return s, out
	}

	// The admin sees the owner: the answer names them.
	s, out := create(r.Admin, b.ID, "+7 (999) 000-44-44")
	if s != http.StatusConflict || out.Error == nil || out.Error.Code != "handle_belongs_to_other_client" {
		t.Fatalf("another client's phone: %d %+v", s, out.Error)
	}
	if out.Error.ClientID == nil || *out.Error.ClientID != int64(owner) || out.Error.Client == "" ||
		out.Error.DialogID == nil || *out.Error.DialogID != ownerDialog {
		t.Fatalf("the conflict does not name the other client: %+v", out.Error)
	}
	// User 7 may not see the owner: told the phone is taken, not by whom.
	s, out = create(tok[7], b.ID, taken)
	if s != http.StatusConflict || out.Error == nil || out.Error.Code != "handle_belongs_to_other_client" {
		t.Fatalf("another client's phone, owner hidden: %d %+v", s, out.Error)
	}
	if out.Error.ClientID != nil || out.Error.Client != "" || out.Error.DialogID != nil {
		t.Fatalf("the conflict names a client the user may not see: %+v", out.Error)
	}
	// Nothing moved: the dialog is still the owner's.
	var contact int64
	if err := r.App.Store.DB().Get(&contact, `SELECT contact_id FROM dialogs WHERE id = $1`, ownerDialog); err != nil || contact != int64(owner) {
		t.Fatalf("the owner's dialog now belongs to %d (%v)", contact, err)
	}
	if n := r.count(`SELECT count(*) FROM dialogs WHERE chat_id = $1`, taken); n != 1 {
		t.Fatalf("%d dialogs of the phone", n)
	}

	// The owner's own phone opens the owner's dialog.
	if s, out := create(r.Admin, owner, taken); s != http.StatusOK || out.Dialog == nil || out.Dialog.ID != ownerDialog {
		t.Fatalf("the owner's own phone: %d %+v", s, out)
	}
	// A phone of nobody's opens a dialog of this client.
	s, out = create(tok[7], b.ID, "79990005555")
	if s != http.StatusOK || out.Dialog == nil || out.Dialog.Contact == nil || out.Dialog.Contact.ID != int64(b.ID) {
		t.Fatalf("a free phone: %d %+v", s, out)
	}
}
