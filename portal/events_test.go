package portal_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/relay24/relay24/portal"
	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/secret"
	"github.com/relay24/relay24/store"
	"github.com/relay24/relay24/store/storetest"
)

type sunk struct {
	portal int64
	event  string
	data   map[string]any
}

type eventBench struct {
	t     *testing.T
	ctx   context.Context
	st    *store.Store
	keys  *secret.Keys
	svc   *portal.Service
	sunk  []sunk
	token map[string]string // member → application token
}

func newEventBench(t *testing.T) *eventBench {
	t.Helper()
	keys, err := secret.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	b := &eventBench{t: t, ctx: context.Background(), st: store.New(storetest.DB(t)), keys: keys, token: map[string]string{}}
	b.svc = portal.New(portal.Options{Store: b.st, Keys: keys})
	b.svc.SetEventSink(func(_ context.Context, p int64, event string, data map[string]any) error {
		b.sunk = append(b.sunk, sunk{p, event, data})
		return nil
	})
	return b
}

// install stores a portal as a confirmed install with an application token.
func (b *eventBench) install(member string) *store.Portal {
	b.t.Helper()
	tok := "app-token-of-" + member
	b.token[member] = tok
	p, err := b.st.UpsertInstall(b.ctx, store.Install{MemberID: member, Domain: member + ".bitrix24.example",
		ClientEndpoint: "https://" + member + ".bitrix24.example/rest/", TokenExpiresAt: time.Now().Add(time.Hour),
		ApplicationTokenHash: b.keys.Hash("application_token", tok),
		AccessToken:          func(int64) []byte { return []byte("a") }, RefreshToken: func(int64) []byte { return []byte("r") }})
	if err != nil {
		b.t.Fatal(err)
	}
	return p
}

func form(event, member, token string, data map[string]any) map[string]any {
	f := map[string]any{"event": event, "auth": map[string]any{"member_id": member, "application_token": token, "domain": member + ".bitrix24.example"}}
	if data != nil {
		f["data"] = data
	}
	return f
}

func (b *eventBench) recorded(p int64) int {
	b.t.Helper()
	var n int
	if err := b.st.DB().Get(&n, `SELECT count(*) FROM portal_events WHERE portal_id = $1`, p); err != nil {
		b.t.Fatal(err)
	}
	return n
}

// A portal event counts only with the portal's own application token (the
// portal never retries, so a refusal changes nothing and tells why): no
// event or auth is malformed, an unknown portal or a wrong token is 401.
// An accepted CRM event is recorded and handed to the sync.
func TestEventAuthentication(t *testing.T) {
	b := newEventBench(t)
	acme, rival := b.install("acme"), b.install("rival")
	deal := map[string]any{"FIELDS": map[string]any{"ID": "42"}}
	for _, c := range []struct {
		name   string
		form   map[string]any
		code   problem.Code
		reason string
	}{
		{"no event name", form("", "acme", b.token["acme"], deal), problem.Invalid, "malformed_event"},
		{"no auth", map[string]any{"event": "ONCRMDEALUPDATE", "data": deal}, problem.Invalid, "malformed_event"},
		{"auth not an object", map[string]any{"event": "ONCRMDEALUPDATE", "auth": "acme"}, problem.Invalid, "malformed_event"},
		{"no member", form("ONCRMDEALUPDATE", "", b.token["acme"], deal), problem.Unauthorized, "unknown_portal"},
		{"unknown member", form("ONCRMDEALUPDATE", "nobody", b.token["acme"], deal), problem.Unauthorized, "unknown_portal"},
		{"no token", form("ONCRMDEALUPDATE", "acme", "", deal), problem.Unauthorized, "wrong_application_token"},
		{"wrong token", form("ONCRMDEALUPDATE", "acme", "guess", deal), problem.Unauthorized, "wrong_application_token"},
		{"another portal's token", form("ONCRMDEALUPDATE", "acme", b.token["rival"], deal), problem.Unauthorized, "wrong_application_token"},
		{"uninstall with a wrong token", form("ONAPPUNINSTALL", "acme", "guess", map[string]any{"CLEAN": "1"}), problem.Unauthorized, "wrong_application_token"},
		{"install event proving nothing", form("ONAPPINSTALL", "acme", "new-token", map[string]any{"LANGUAGE_ID": "en"}), problem.Unauthorized, "install_unproven"},
	} {
		ev, err := b.svc.HandleEvent(b.ctx, c.form)
		pe, ok := problem.As(err)
		if ev != nil || !ok || pe.Code != c.code || pe.Reason != c.reason {
			t.Errorf("%s: %v, %v; want %s %s", c.name, ev, err, c.code, c.reason)
		}
	}
	if n := b.recorded(acme.ID); n != 0 || len(b.sunk) != 0 {
		t.Fatalf("refused events were recorded (%d) or synced (%d)", n, len(b.sunk))
	}
	// Nothing about the portal changed: still installed, its token still valid.
	if p, err := b.st.PortalByMemberID(b.ctx, "acme"); err != nil || !p.Active() || !bytes.Equal(p.ApplicationTokenHash, acme.ApplicationTokenHash) {
		t.Fatalf("after refused events: %+v, %v", p, err)
	}

	ev, err := b.svc.HandleEvent(b.ctx, form("onCrmDealUpdate", "acme", b.token["acme"], deal))
	if err != nil || ev == nil || ev.Name != "ONCRMDEALUPDATE" || ev.Portal.ID != acme.ID {
		t.Fatalf("a genuine event: %+v, %v", ev, err)
	}
	if n := b.recorded(acme.ID); n != 1 || b.recorded(rival.ID) != 0 {
		t.Errorf("recorded %d events of acme, %d of rival; want 1 and 0", n, b.recorded(rival.ID))
	}
	if len(b.sunk) != 1 || b.sunk[0].portal != acme.ID || b.sunk[0].event != "ONCRMDEALUPDATE" || b.sunk[0].data["FIELDS"] == nil {
		t.Errorf("the sync was told %+v", b.sunk)
	}
}

// ONAPPUNINSTALL with the portal's token forgets its tokens (its data
// stays); later events, the token now forgotten, are refused. With CLEAN
// the portal and everything of it goes.
func TestUninstallEvent(t *testing.T) {
	b := newEventBench(t)
	acme, wiped := b.install("acme"), b.install("wiped")
	if err := b.st.UpsertUser(b.ctx, store.User{PortalID: acme.ID, ID: 1, Name: "kept", Active: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.svc.HandleEvent(b.ctx, form("ONAPPUNINSTALL", "acme", b.token["acme"], map[string]any{"CLEAN": "0"})); err != nil {
		t.Fatal(err)
	}
	p, err := b.st.PortalByMemberID(b.ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if p.Active() || p.AccessToken != nil || p.RefreshToken != nil || p.ApplicationTokenHash != nil {
		t.Errorf("after uninstall: active %v, tokens kept %v %v %v", p.Active(), p.AccessToken != nil, p.RefreshToken != nil, p.ApplicationTokenHash != nil)
	}
	if _, err := b.st.UserByID(b.ctx, acme.ID, 1); err != nil {
		t.Errorf("an uninstall without CLEAN lost the portal's data: %v", err)
	}
	_, err = b.svc.HandleEvent(b.ctx, form("ONCRMDEALADD", "acme", b.token["acme"], nil))
	if !problem.Is(err, problem.Unauthorized) {
		t.Errorf("an event after the uninstall: %v, want refused", err)
	}

	if _, err := b.svc.HandleEvent(b.ctx, form("ONAPPUNINSTALL", "wiped", b.token["wiped"], map[string]any{"CLEAN": "Y"})); err != nil {
		t.Fatal(err)
	}
	if _, err := b.st.PortalByID(b.ctx, wiped.ID); !problem.Is(err, problem.NotFound) {
		t.Errorf("after a clean uninstall the portal is still there: %v", err)
	}
	if _, err := b.st.PortalByID(b.ctx, acme.ID); err != nil {
		t.Errorf("a clean uninstall of another portal removed acme: %v", err)
	}
}
