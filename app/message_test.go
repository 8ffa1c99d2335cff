package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/relay24/relay24/placement"
)

// GET /api/v1/messages/{id} answers one message with fresh signed links (a
// chat open for hours renews an expired one) under the history's access
// rule: a message of a dialog the caller does not see, another portal's,
// or one that does not exist is 404 alike.
func TestOneMessageFreshLinks(t *testing.T) {
	r := newRelayEnv(t)
	tok := r.company()
	_, d7 := r.clientOf(7, "79990000007")
	_, d8 := r.clientOf(8, "79990000008")
	if _, err := r.Acc.ClientWrites(r.ctx, r.WA.ChannelID, "whatsapp", "79990000007", wztestIncomingImage(r.WZ.PutMedia("a.jpg", "image/jpeg", tgJPEG(t)))); err != nil {
		t.Fatal(err)
	}
	r.settle()
	var photo historyMsg
	for _, m := range r.history(tok[7], d7) {
		if m.Kind == "image" {
			photo = m
		}
	}
	if photo.ID == 0 || len(photo.Attachments) != 1 {
		t.Fatalf("no photo in %+v", r.history(tok[7], d7))
	}
	hidden := r.history(r.Admin, d8)[0] // Support's dialog: user 7 does not see it

	type answer struct {
		Message struct {
			ID          int64 `json:"id"`
			DialogID    int64 `json:"dialog_id"`
			Attachments []struct {
				URL string `json:"url"`
			} `json:"attachments"`
		} `json:"message"`
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	// Its owner and his department's head get it, with a link that opens.
	for _, user := range []int{7, 3, 1} {
		var a answer
		if s := r.api("GET", "/api/v1/messages/"+itoa64(photo.ID), tok[user], nil, &a); s != http.StatusOK ||
			a.Message.ID != photo.ID || a.Message.DialogID != d7 || len(a.Message.Attachments) != 1 {
			t.Fatalf("user %d: %d %+v", user, s, a)
		}
		u := a.Message.Attachments[0].URL
		if !strings.HasPrefix(u, "/api/v1/messages/"+itoa64(photo.ID)+"/attachments/0?exp=") {
			t.Fatalf("user %d: link %q", user, u)
		}
		if res, _ := r.get(u); res.StatusCode != http.StatusOK {
			t.Errorf("user %d: the fresh link answers %d", user, res.StatusCode)
		}
	}

	pb := r.installedPortal()
	r.settle()
	adminB := r.session(pb, placement.LeftMenu, nil, 1)
	for name, c := range map[string]struct {
		token string
		id    string
	}{
		"a dialog he does not see":   {tok[7], itoa64(hidden.ID)},
		"visibility none":            {tok[8], itoa64(photo.ID)},
		"another portal's admin":     {adminB, itoa64(photo.ID)},
		"a message that is not":      {r.Admin, itoa64(photo.ID + 1000)},
		"an id that is not a number": {r.Admin, "x1"},
	} {
		var a answer
		if s := r.api("GET", "/api/v1/messages/"+c.id, c.token, nil, &a); s != http.StatusNotFound || a.Message.ID != 0 ||
			(a.Error.Code != "message_not_found" && a.Error.Code != "not_found") {
			t.Errorf("%s: %d %+v", name, s, a)
		}
	}
	// Without a session: 401, as the whole API.
	if s := r.api("GET", "/api/v1/messages/"+itoa64(photo.ID), "", nil, nil); s != http.StatusUnauthorized {
		t.Errorf("no session: %d", s)
	}
}
