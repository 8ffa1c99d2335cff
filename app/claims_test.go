package app_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/relay24/relay24/app"
	"github.com/relay24/relay24/apptest"
	"github.com/relay24/relay24/bitrix/b24test"
	"github.com/relay24/relay24/config"
	"github.com/relay24/relay24/placement"
	"github.com/relay24/relay24/secret"
	"github.com/relay24/relay24/store/storetest"
	"github.com/relay24/relay24/wazzup"
	"github.com/relay24/relay24/wazzup/wztest"
)

// The claims of README.md that no other test pinned down, each over real
// HTTP against the emulators.

// README, operator endpoints: GET /healthz says the process is alive, GET
// /readyz that the database answers — and not when it does not.
func TestClaimReadyzFollowsTheDatabase(t *testing.T) {
	e := newEnv(t)
	status := func(path string) int {
		t.Helper()
		res, err := e.http.Get(e.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		readAll(res)
		return res.StatusCode
	}
	if h, r := status("/healthz"), status("/readyz"); h != http.StatusOK || r != http.StatusOK {
		t.Fatalf("healthy: /healthz %d, /readyz %d", h, r)
	}
	u, err := url.Parse(e.DBURL)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	admin, err := sql.Open("postgres", storetest.ClusterURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	allow := func(on bool) {
		t.Helper()
		if _, err := admin.Exec(`ALTER DATABASE ` + name + ` WITH ALLOW_CONNECTIONS ` + strconv.FormatBool(on)); err != nil {
			t.Fatal(err)
		}
	}
	// The database stops answering this relay24: no new connection is
	// allowed, and the open ones are cut.
	allow(false)
	t.Cleanup(func() { allow(true) })
	if _, err := admin.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, name); err != nil {
		t.Fatal(err)
	}
	if s := status("/readyz"); s != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the database gone: %d, want 503", s)
	}
	if s := status("/healthz"); s != http.StatusOK {
		t.Errorf("/healthz with the database gone: %d, want 200 (alive)", s)
	}
	allow(true)
	if s := status("/readyz"); s != http.StatusOK {
		t.Errorf("/readyz with the database back: %d, want 200", s)
	}
}

// twoListeners serves one App on two addresses, so that the address a
// request came to and PUBLIC_URL can differ.
type twoListeners struct {
	a, b  net.Listener
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newTwoListeners(a, b net.Listener) *twoListeners {
	l := &twoListeners{a: a, b: b, conns: make(chan net.Conn), done: make(chan struct{})}
	for _, ln := range []net.Listener{a, b} {
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				select {
				case l.conns <- c:
				case <-l.done:
					c.Close()
					return
				}
			}
		}()
	}
	return l
}

func (l *twoListeners) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *twoListeners) Close() error {
	l.once.Do(func() { close(l.done); l.a.Close(); l.b.Close() })
	return nil
}

func (l *twoListeners) Addr() net.Addr { return l.a.Addr() }

// README: "PUBLIC_URL: every handler URL relay24 registers is built from
// it" — the placements and events bound on install (under
// $PUBLIC_URL/b24/…), the Wazzup webhook ($PUBLIC_URL/webhooks/wazzup/<secret>
// with the messagesAndStatuses and channelsUpdates subscriptions) and the
// Telegram webhook (setWebhook with a secret token), never the address a
// request happened to come to. RECONCILE_EVERY sets the reconciliation's
// schedule.
func TestClaimEverythingRegisteredIsUnderPUBLIC_URL(t *testing.T) {
	lnA, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lnB, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		lnA.Close()
		t.Skipf("no second loopback address: %v", err)
	}
	public := "http://" + lnB.Addr().String()
	b := apptest.NewBackends(t, lnA.Addr().String(), apptest.Options{Env: map[string]string{"PUBLIC_URL": public, "RECONCILE_EVERY": "7m"}})
	cfg, err := config.Parse(b.Getenv, false, "")
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, app.Options{Log: slog.New(slog.DiscardHandler), Listener: newTwoListeners(lnA, lnB), Workers: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.Start(ctx)
	t.Cleanup(func() {
		cancel()
		if err := a.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	if b.URL == public {
		t.Fatal("the test needs PUBLIC_URL to differ from the address requests come to")
	}

	every := time.Duration(0)
	for _, en := range a.Cron.Entries() {
		if s, ok := en.Schedule.(cron.ConstantDelaySchedule); ok && s.Delay == 7*time.Minute {
			every = s.Delay
		}
	}
	if every != 7*time.Minute {
		t.Errorf("RECONCILE_EVERY=7m: no job scheduled every 7m (%d entries)", len(a.Cron.Entries()))
	}

	// Install, posted to the other address.
	p := b.OAuth.NewPortal(b24test.PortalOptions{})
	t.Cleanup(p.Close)
	if r, err := p.PostInstall(ctx, b.URL+"/b24/install", 1); err != nil || r.Status != http.StatusOK {
		t.Fatalf("install: %v %d", err, r.Status)
	}
	p.InstallFinish()
	for _, pb := range p.Placements() {
		if pb.Handler != public+"/b24/placement" {
			t.Errorf("placement %s bound to %s, want %s/b24/placement", pb.Placement, pb.Handler, public)
		}
	}
	for _, eb := range p.EventBindings() {
		if eb.Handler != public+"/b24/events" {
			t.Errorf("event %s bound to %s, want %s/b24/events", eb.Event, eb.Handler, public)
		}
	}
	if len(p.Placements()) == 0 || len(p.EventBindings()) == 0 {
		t.Fatalf("nothing bound: %d placements, %d events", len(p.Placements()), len(p.EventBindings()))
	}
	// The portal opens the placement where it was bound: at PUBLIC_URL.
	page, err := p.OpenPlacement(ctx, placement.LeftMenu, nil, 1)
	if err != nil || page.Status != http.StatusOK {
		t.Fatalf("placement: %v %d", err, page.Status)
	}
	m := sessionMeta.FindSubmatch(page.Body)
	if m == nil {
		t.Fatalf("no session on the page:\n%s", page.Body)
	}
	admin := string(m[1])
	connect := func(body string) {
		t.Helper()
		req, _ := http.NewRequest("POST", b.URL+"/api/v1/channels", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if s := res.StatusCode; s != http.StatusCreated {
			t.Fatalf("connect %s: %d %s", body, s, readAll(res))
		}
		readAll(res)
	}

	// Wazzup: the webhook, and what it subscribes to, as Wazzup reports it.
	const apiKey = "0badc0ffee0badc0ffee0badc0ffee00"
	acc := b.WZ.AddAccount(apiKey)
	wa := acc.AddChannel("whatsapp", "79990000001", "WA")
	connect(`{"provider":"wazzup","api_key":"` + apiKey + `"}`)
	uri, subs, err := wazzup.NewClient(b.WZ.URL(), apiKey, nil).Webhooks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if key, ok := strings.CutPrefix(uri, public+"/webhooks/wazzup/"); !ok || key == "" || strings.Contains(key, "/") {
		t.Errorf("Wazzup webhook %q, want %s/webhooks/wazzup/<secret>", uri, public)
	}
	if !subs.MessagesAndStatuses || !subs.ChannelsUpdates {
		t.Errorf("Wazzup subscriptions %+v, want messagesAndStatuses and channelsUpdates", subs)
	}
	if _, err := acc.ClientWrites(ctx, wa.ChannelID, "whatsapp", "79990000002", wztestIncoming("hello")); err != nil {
		t.Errorf("a client's message did not reach relay24 at PUBLIC_URL: %v", err)
	}

	// Telegram: setWebhook under PUBLIC_URL, with a secret token.
	const token = "423456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw8"
	bot := b.TG.AddBot(token, "claims_bot")
	connect(`{"provider":"telegram","bot_token":"` + token + `"}`)
	hook, secretToken := bot.Webhook()
	if key, ok := strings.CutPrefix(hook, public+"/webhooks/telegram/"); !ok || key == "" || secretToken == "" {
		t.Errorf("Telegram webhook %q with secret token %q, want %s/webhooks/telegram/<secret> and a token", hook, secretToken, public)
	}
}

// README: tokens and credentials are encrypted at rest with SECRET_KEY; the
// application token is kept as an HMAC, never itself. No table holds any of
// them in the clear, and the portal's tokens open with SECRET_KEY.
func TestClaimSecretsAreSealedAtRest(t *testing.T) {
	r := newRelayEnv(t)
	const botToken = "523456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw8"
	r.connectBot(r.Admin, botToken, "sealed_bot")
	db := r.App.Store.DB()

	var sealedAccess, sealedRefresh []byte
	if err := db.QueryRow(`SELECT access_token, refresh_token FROM portals WHERE id = $1`, r.PortalID).Scan(&sealedAccess, &sealedRefresh); err != nil {
		t.Fatal(err)
	}
	key, err := hex.DecodeString(apptest.SecretKey)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secret.New(key)
	if err != nil {
		t.Fatal(err)
	}
	// The sealing contexts of package portal: a sealed value opens only as
	// what it was sealed for.
	id := strconv.FormatInt(r.PortalID, 10)
	access, err := keys.Open(sealedAccess, "portal:"+id+":access")
	if err != nil {
		t.Fatalf("the stored access token does not open with SECRET_KEY: %v", err)
	}
	refresh, err := keys.Open(sealedRefresh, "portal:"+id+":refresh")
	if err != nil {
		t.Fatalf("the stored refresh token does not open with SECRET_KEY: %v", err)
	}
	// What opened is the live token: the portal answers it.
	body, _ := json.Marshal(map[string]string{"auth": access})
	res, err := http.Post(r.P.ClientEndpoint()+"user.current", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if b := readAll(res); res.StatusCode != http.StatusOK {
		t.Fatalf("the opened access token is refused by the portal: %d %s", res.StatusCode, b)
	}
	other, err := secret.New(bytes.Repeat([]byte{0xcd}, 32))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Open(sealedAccess, "portal:"+id+":access"); err == nil {
		t.Error("the access token opens with another key")
	}

	// Every row of every table, as text: none of the secrets, in the clear
	// or as the hex of a bytea.
	var tables []string
	if err := db.Select(&tables, `SELECT tablename FROM pg_tables WHERE schemaname = 'public'`); err != nil {
		t.Fatal(err)
	}
	var dump strings.Builder
	for _, tbl := range tables {
		var rows []string
		if err := db.Select(&rows, `SELECT t::text FROM `+tbl+` t`); err != nil {
			t.Fatal(err)
		}
		for _, row := range rows {
			dump.WriteString(tbl + ": " + row + "\n")
		}
	}
	all := strings.ToLower(dump.String())
	for name, s := range map[string]string{
		"the portal's access token": access, "the portal's refresh token": refresh,
		"the application token": r.P.ApplicationToken(), "the Wazzup API key": "c8cf90444023482f909520d454368d27",
		"the bot token": botToken,
	} {
		if s == "" {
			t.Fatalf("%s is empty", name)
		}
		if strings.Contains(all, strings.ToLower(s)) || strings.Contains(all, hex.EncodeToString([]byte(s))) {
			t.Errorf("%s is stored in the clear", name)
		}
	}
}

// README, API beyond the contract: the admin routes answer admins only; a
// repair re-binds exactly what is missing; the users list is by department
// with each one's access; DELETE disconnects the gateway.
func TestClaimAdminRoutesBeyondTheContract(t *testing.T) {
	r := newRelayEnv(t)
	waID := strconv.FormatInt(r.chans[r.WA.ChannelID], 10)
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/v1/sync"}, {"POST", "/api/v1/settings/repair"}, {"GET", "/api/v1/users"}, {"DELETE", "/api/v1/channels/" + waID},
	} {
		if s := r.api(c.method, c.path, r.Sales, nil, nil); s != http.StatusForbidden {
			t.Errorf("salesperson %s %s: %d, want 403", c.method, c.path, s)
		}
	}

	// Something went missing on the portal: a placement and an event.
	tok := r.P.IssueTokens(1)
	for method, params := range map[string]map[string]any{
		"placement.unbind": {"PLACEMENT": placement.LeadToolbar},
		"event.unbind":     {"event": "ONCRMDEALUPDATE", "handler": r.URL + "/b24/events"},
	} {
		params["auth"] = tok.Access
		b, _ := json.Marshal(params)
		res, err := http.Post(r.P.ClientEndpoint()+method, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if body := readAll(res); res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", method, res.StatusCode, body)
		}
	}
	binds := methodCalls(r.P, "placement.bind") + methodCalls(r.P, "event.bind")
	var repaired struct {
		Missing []string `json:"missing"`
	}
	if s := r.api("POST", "/api/v1/settings/repair", r.Admin, nil, &repaired); s != http.StatusOK || len(repaired.Missing) != 0 {
		t.Fatalf("repair: %d, still missing %v", s, repaired.Missing)
	}
	if n := methodCalls(r.P, "placement.bind") + methodCalls(r.P, "event.bind") - binds; n != 2 {
		t.Errorf("repair made %d bind calls, want 2 (the placement and the event that went missing)", n)
	}
	r.checkContractBindings(r.P, "repair")

	var users struct {
		Departments []struct {
			ID    int64 `json:"id"`
			Users []struct {
				ID     int64 `json:"id"`
				Access struct {
					Visibility string `json:"visibility"`
				} `json:"access"`
			} `json:"users"`
		} `json:"departments"`
	}
	if s := r.api("GET", "/api/v1/users", r.Admin, nil, &users); s != http.StatusOK {
		t.Fatalf("users: %d", s)
	}
	seen := map[int64]string{}
	for _, d := range users.Departments {
		for _, u := range d.Users {
			seen[u.ID] = u.Access.Visibility
		}
	}
	if seen[1] == "" || seen[2] == "" {
		t.Errorf("users by department: %+v, want the admin and the salesperson with their access", users)
	}

	if s := r.api("DELETE", "/api/v1/channels/"+waID, r.Admin, nil, nil); s != http.StatusNoContent {
		t.Fatalf("disconnect: %d", s)
	}
	var chans struct {
		Channels []struct {
			ID int64 `json:"id"`
		} `json:"channels"`
	}
	if s := r.api("GET", "/api/v1/channels", r.Admin, nil, &chans); s != http.StatusOK {
		t.Fatalf("channels: %d", s)
	}
	for _, c := range chans.Channels {
		if c.ID == r.chans[r.WA.ChannelID] {
			t.Errorf("the disconnected channel is still listed: %+v", chans.Channels)
		}
	}
}

// apiError reads the error code of an API answer.
func (e *env) apiError(req *http.Request) (int, string) {
	e.t.Helper()
	res, err := e.http.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	var out struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal([]byte(readAll(res)), &out)
	return res.StatusCode, out.Error.Code
}

// README, sessions: the Bearer header works everywhere, the event stream
// included; a cookie write from another origin is 403 cross_origin; the
// individual chat of a card the portal does not have is 404
// entity_not_found.
func TestClaimSessionRules(t *testing.T) {
	e := newEnv(t)
	p := e.installedPortal()
	tok := e.session(p, placement.LeftMenu, nil, 2)

	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.URL+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Errorf("event stream with a Bearer header: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	cancel()
	res.Body.Close()

	req, _ = http.NewRequest("GET", e.URL+"/api/v1/dialogs?entity_type=deal&entity_id=999999", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if s, code := e.apiError(req); s != http.StatusNotFound || code != "entity_not_found" {
		t.Errorf("a card the portal does not have: %d %q, want 404 entity_not_found", s, code)
	}

	p.LoginAs(2)
	jar := newJar()
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	res, err = c.Get(e.URL + "/login?portal=" + url.QueryEscape(p.Domain()))
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("login: %v", err)
	}
	readAll(res)
	req, _ = http.NewRequest("PUT", e.URL+"/api/v1/me/preferences", strings.NewReader(`{"sound":false}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "https://evil.example")
	u, _ := url.Parse(e.URL)
	for _, ck := range jar.Cookies(u) {
		req.AddCookie(ck)
	}
	if s, code := e.apiError(req); s != http.StatusForbidden || code != "cross_origin" {
		t.Errorf("a cookie write from another origin: %d %q, want 403 cross_origin", s, code)
	}
}

// README: dialogs also carry client_name, deal_id, lead_id; the individual
// chat's answer lists the card's contacts; messages carry kind and, in
// "View all dialogs", their channel. And the app's scopes are the six
// README lists: the whole flow needs no other.
func TestClaimDialogAndMessageExtras(t *testing.T) {
	if b24test.DefaultScope != "crm,placement,user,department,im,bizproc" {
		t.Fatalf("the emulated app is registered with %q, not README's scopes", b24test.DefaultScope)
	}
	r := newRelayEnv(t)
	r.clientWrites(r.WA, "whatsapp", "79160000101", "Хочу купить")
	r.settle()
	if s := r.api("PUT", "/api/v1/settings", r.Admin, map[string]string{"new_client": "lead"}, nil); s != http.StatusOK {
		t.Fatalf("settings: %d", s)
	}
	r.clientWrites(r.IG, "instagram", "lead.client", "Сколько стоит?")
	r.settle()

	type dialog struct {
		ID         int64   `json:"id"`
		ChatID     string  `json:"chat_id"`
		ClientName *string `json:"client_name"`
		DealID     *int64  `json:"deal_id"`
		LeadID     *int64  `json:"lead_id"`
		Contact    *struct {
			ID int64 `json:"id"`
		} `json:"contact"`
	}
	var list struct {
		Dialogs []dialog `json:"dialogs"`
	}
	if s := r.api("GET", "/api/v1/dialogs", r.Admin, nil, &list); s != http.StatusOK {
		t.Fatalf("dialogs: %d", s)
	}
	byChat := map[string]dialog{}
	for _, d := range list.Dialogs {
		byChat[d.ChatID] = d
	}
	deal, lead := byChat["79160000101"], byChat["lead.client"]
	if deal.ClientName == nil || *deal.ClientName == "" || lead.ClientName == nil || *lead.ClientName == "" {
		t.Errorf("client_name missing: %+v / %+v", deal, lead)
	}
	if deal.DealID == nil || deal.Contact == nil {
		t.Fatalf("the new client got no deal or contact: %+v", deal)
	}
	if lead.LeadID == nil {
		t.Errorf("with new clients as leads, the dialog carries no lead_id: %+v", lead)
	}

	// The individual chat of the deal lists its contacts.
	var card struct {
		Dialogs  []dialog `json:"dialogs"`
		Contacts []struct {
			ID int64 `json:"id"`
		} `json:"contacts"`
	}
	if s := r.api("GET", "/api/v1/dialogs?entity_type=deal&entity_id="+strconv.FormatInt(*deal.DealID, 10), r.Admin, nil, &card); s != http.StatusOK {
		t.Fatalf("individual chat: %d", s)
	}
	if len(card.Contacts) != 1 || card.Contacts[0].ID != deal.Contact.ID {
		t.Errorf("the deal's contacts %+v, want its contact %d", card.Contacts, deal.Contact.ID)
	}

	type message struct {
		Kind    string `json:"kind"`
		Channel *struct {
			ID        int64  `json:"id"`
			Transport string `json:"transport"`
		} `json:"channel"`
	}
	var hist, all struct {
		Messages []message `json:"messages"`
	}
	if s := r.api("GET", "/api/v1/dialogs/"+strconv.FormatInt(deal.ID, 10)+"/messages", r.Admin, nil, &hist); s != http.StatusOK || len(hist.Messages) == 0 {
		t.Fatalf("history: %d %+v", s, hist)
	}
	for _, m := range hist.Messages {
		if m.Kind != "text" || m.Channel != nil {
			t.Errorf("a dialog's message: kind %q, channel %+v; want text and no channel", m.Kind, m.Channel)
		}
	}
	if s := r.api("GET", "/api/v1/contacts/"+strconv.FormatInt(deal.Contact.ID, 10)+"/messages", r.Admin, nil, &all); s != http.StatusOK || len(all.Messages) == 0 {
		t.Fatalf("View all dialogs: %d %+v", s, all)
	}
	for _, m := range all.Messages {
		if m.Kind != "text" || m.Channel == nil || m.Channel.ID != r.chans[r.WA.ChannelID] || m.Channel.Transport != "whatsapp" {
			t.Errorf("View all dialogs: kind %q, channel %+v; want text and the WhatsApp channel", m.Kind, m.Channel)
		}
	}

	for _, c := range r.P.Calls() {
		if c.Error == "insufficient_scope" {
			t.Errorf("%s needs a scope README does not list", c.Method)
		}
	}
}

// BENCHMARKS, the general chat: the waiting count is capped at 99 ("99+"):
// past it the API answers 100, whatever the real number.
func TestClaimWaitingCountCappedAt99(t *testing.T) {
	r := newRelayEnv(t)
	db := r.App.Store.DB()
	if _, err := db.Exec(`
		INSERT INTO dialogs (portal_id, channel_id, chat_type, chat_id, client_name, client_resolved, responsible_id, last_in_at, last_message_at)
		SELECT $1, $2, 'whatsapp', (79000000000 + g)::text, 'Client ' || g, true, 1, now() - g * interval '1 second', now() - g * interval '1 second'
		FROM generate_series(1, 150) g`, r.PortalID, r.chans[r.WA.ChannelID]); err != nil {
		t.Fatal(err)
	}
	if n := r.count(`SELECT count(*) FROM dialogs WHERE portal_id = $1 AND unanswered`, r.PortalID); n != 150 {
		t.Fatalf("%d waiting dialogs seeded, want 150", n)
	}
	var page struct {
		Count int `json:"unanswered_count"`
	}
	if s := r.api("GET", "/api/v1/dialogs?limit=1", r.Admin, nil, &page); s != http.StatusOK || page.Count != 100 {
		t.Errorf("150 waiting: %d, unanswered_count %d, want 100 (shown as 99+)", s, page.Count)
	}
}

// README: the signed attachment link is valid about an hour.
func TestClaimAttachmentLinkLivesAboutAnHour(t *testing.T) {
	r := newRelayEnv(t)
	if _, err := r.Acc.ClientWrites(r.ctx, r.WA.ChannelID, "whatsapp", "79990001133", wztestIncomingImage(r.WZ.PutMedia("a.jpg", "image/jpeg", tgJPEG(t)))); err != nil {
		t.Fatal(err)
	}
	r.settle()
	ds := r.dialogs(r.Admin)
	if len(ds) != 1 {
		t.Fatalf("dialogs %+v", ds)
	}
	ms := r.history(r.Admin, ds[0].ID)
	if len(ms) != 1 || len(ms[0].Attachments) != 1 {
		t.Fatalf("messages %+v", ms)
	}
	u, err := url.Parse(ms[0].Attachments[0]["url"])
	if err != nil {
		t.Fatal(err)
	}
	exp, err := strconv.ParseInt(u.Query().Get("exp"), 10, 64)
	if err != nil {
		t.Fatalf("link %s: %v", u, err)
	}
	if life := time.Until(time.Unix(exp, 0)); life < 50*time.Minute || life > 2*time.Hour {
		t.Errorf("the link lives %s, README says about an hour", life.Round(time.Minute))
	}
	res, _ := r.get(u.String())
	if res.StatusCode != http.StatusOK {
		t.Errorf("the link, with no session: %d", res.StatusCode)
	}
}

func wztestIncomingImage(uri string) wztest.Incoming {
	return wztest.Incoming{ContentURI: uri, Type: "image", ContactName: "Ян"}
}

// README: "The installer page then calls BX24.installFinish()": the page
// relay24 answers the installer POST with loads the portal's BX24 SDK and
// relay24's frame script, and calls installFinish, which the frame script
// hands to BX24.installFinish (or, without the SDK, posts the same frame
// command the SDK would).
func TestClaimInstallerPageCallsBX24InstallFinish(t *testing.T) {
	e := newEnv(t)
	p := e.OAuth.NewPortal(b24test.PortalOptions{})
	t.Cleanup(p.Close)
	r, err := p.PostInstall(e.ctx, e.URL+"/b24/install", 1)
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("install: %v %d", err, r.Status)
	}
	body := string(r.Body)
	asset := regexp.MustCompile(`<script src="(/static/bx24\.js[^"]*)"></script>`).FindStringSubmatch(body)
	if !strings.Contains(body, `<script src="https://api.bitrix24.com/api/v1/"></script>`) || asset == nil ||
		!strings.Contains(body, "<script>relay24Frame.installFinish();</script>") {
		t.Fatalf("the installer page does not load the SDK and the frame script and call installFinish:\n%s", body)
	}
	res, err := e.http.Get(e.URL + asset[1])
	if err != nil {
		t.Fatal(err)
	}
	js := readAll(res)
	if res.StatusCode != http.StatusOK || !strings.Contains(js, "BX24.installFinish()") || !strings.Contains(js, `send("setInstallFinish"`) {
		t.Fatalf("%s (%d) does not call BX24.installFinish:\n%s", asset[1], res.StatusCode, js)
	}
}
