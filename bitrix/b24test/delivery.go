package b24test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/relay24/relay24/bitrix"
)

// ErrNotInstalled is returned when the portal would not show the app or
// deliver events because the installation is not finished.
var ErrNotInstalled = errors.New("b24test: the application is not installed on this portal")

// ErrNoPlacementHandler is returned by OpenPlacement when nothing is bound.
var ErrNoPlacementHandler = errors.New("b24test: no handler is bound for this placement")

// ErrNotAdmin is returned when a non-administrator tries to install.
var ErrNotAdmin = errors.New("b24test: only an administrator can install the application")

// userAgent is what the portal's outgoing requests identify as.
const userAgent = "Bitrix24 Webhook Engine"

// post sends a form POST and reads the whole answer.
func (p *Portal) post(ctx context.Context, target string, form string) (Reply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form))
	if err != nil {
		return Reply{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", userAgent)
	resp, err := p.o.client.Do(req)
	if err != nil {
		return Reply{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Reply{}, err
	}
	return Reply{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

func (p *Portal) userLang(userID int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if u := p.users[userID]; u != nil && u.Lang != "" {
		return u.Lang
	}
	return p.lang
}

// openFrame POSTs what a page opened in the portal's iframe receives:
// DOMAIN/PROTOCOL/LANG/APP_SID in the query, tokens and placement in the
// form body (app-open.POST.DEFAULT.print_r.txt).
func (p *Portal) openFrame(ctx context.Context, target string, userID int, placement, options string) (Reply, error) {
	q := url.Values{}
	q.Set("DOMAIN", p.Domain())
	q.Set("PROTOCOL", "0")
	q.Set("LANG", p.userLang(userID))
	q.Set("APP_SID", randomHex(16))
	u, err := withQuery(target, q)
	if err != nil {
		return Reply{}, err
	}
	tok := p.IssueTokens(userID)
	form := url.Values{}
	form.Set("AUTH_ID", tok.Access)
	form.Set("AUTH_EXPIRES", strconv.Itoa(tok.ExpiresIn))
	form.Set("REFRESH_ID", tok.Refresh)
	form.Set("SERVER_ENDPOINT", p.o.serverEndpoint())
	form.Set("APPLICATION_TOKEN", p.ApplicationToken())
	form.Set("APPLICATION_SCOPE", p.o.app.Scope)
	form.Set("member_id", p.memberID)
	form.Set("status", "L")
	form.Set("PLACEMENT", placement)
	form.Set("PLACEMENT_OPTIONS", options)
	return p.post(ctx, u, form.Encode())
}

// PostInstall opens the installer page (UI install) for an administrator.
// The application exists on the portal from now on, but is not installed
// (no events, no widgets, app.info INSTALLED=false) until InstallFinish.
func (p *Portal) PostInstall(ctx context.Context, installURL string, userID int) (Reply, error) {
	p.mu.Lock()
	u := p.users[userID]
	if u == nil || !u.Active || !u.Admin {
		p.mu.Unlock()
		return Reply{}, ErrNotAdmin
	}
	p.installing = true
	p.mu.Unlock()
	return p.openFrame(ctx, installURL, userID, "DEFAULT", "{}")
}

// InstallFinish is BX24.installFinish(): the application becomes installed
// and events flow. Handlers bound to ONAPPINSTALL receive it now.
func (p *Portal) InstallFinish() {
	_, _ = p.InstallFinishContext(context.Background())
}

// InstallFinishContext is InstallFinish returning the answers of
// ONAPPINSTALL handlers.
func (p *Portal) InstallFinishContext(ctx context.Context) ([]Reply, error) {
	p.mu.Lock()
	already := p.installed
	p.installed, p.installing = true, true
	admin := p.loginUser
	p.mu.Unlock()
	if already {
		return nil, nil
	}
	return p.deliver(ctx, "ONAPPINSTALL", installData(p.lang), admin, true)
}

func installData(lang string) map[string]any {
	return map[string]any{"VERSION": "1", "ACTIVE": "Y", "INSTALLED": "Y", "LANGUAGE_ID": lang}
}

// PostInstallEvent is the no-UI install: the ONAPPINSTALL form event (with
// refresh_token) POSTed to the installation handler for the logged-in
// administrator. The application is installed when the reply is 2xx.
func (p *Portal) PostInstallEvent(ctx context.Context, handlerURL string) (Reply, error) {
	p.mu.Lock()
	userID := p.loginUser
	u := p.users[userID]
	if u == nil || !u.Active || !u.Admin {
		p.mu.Unlock()
		return Reply{}, ErrNotAdmin
	}
	p.installing = true
	id := p.bindID()
	p.mu.Unlock()
	tok := p.IssueTokens(userID)
	form := p.eventForm("ONAPPINSTALL", id, installData(p.lang), &tok, userID)
	reply, err := p.post(ctx, handlerURL, bitrix.EncodeQuery(form))
	p.logDelivery("ONAPPINSTALL", handlerURL, form, reply, err)
	if err == nil && reply.Status >= 200 && reply.Status < 300 {
		p.mu.Lock()
		p.installed = true
		p.mu.Unlock()
	}
	return reply, err
}

// OpenApp opens the application's main page (PLACEMENT=DEFAULT) for a user.
func (p *Portal) OpenApp(ctx context.Context, appURL string, userID int) (Reply, error) {
	if !p.Installed() {
		return Reply{}, ErrNotInstalled
	}
	return p.openFrame(ctx, appURL, userID, "DEFAULT", "{}")
}

// OpenPlacement opens a widget: POST to the handler bound for the placement
// (the first one when several are) with PLACEMENT_OPTIONS = JSON of options
// plus "URI" (derived from the placement when options has none).
func (p *Portal) OpenPlacement(ctx context.Context, placement string, options map[string]string, userID int) (Reply, error) {
	if !p.Installed() {
		return Reply{}, ErrNotInstalled
	}
	code := strings.ToUpper(placement)
	var handler string
	p.mu.Lock()
	for _, b := range p.placements {
		if b.Placement == code {
			handler = b.Handler
			break
		}
	}
	p.mu.Unlock()
	if handler == "" {
		return Reply{}, fmt.Errorf("%w: %s", ErrNoPlacementHandler, code)
	}
	opts := newOmap()
	keys := make([]string, 0, len(options))
	for k := range options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k != "URI" {
			opts.set(k, options[k])
		}
	}
	uri := options["URI"]
	if uri == "" {
		uri = placementURI(code, options)
	}
	opts.set("URI", uri)
	return p.openFrame(ctx, handler, userID, code, phpJSON(opts))
}

// placementURI is the page a placement is opened from.
func placementURI(code string, options map[string]string) string {
	id := options["ID"]
	for _, e := range []string{"DEAL", "LEAD", "CONTACT", "COMPANY"} {
		lower := strings.ToLower(e)
		switch {
		case strings.HasPrefix(code, "CRM_"+e+"_DETAIL"):
			return "/crm/" + lower + "/details/" + id + "/?IFRAME=Y&IFRAME_TYPE=SIDE_SLIDER"
		case strings.HasPrefix(code, "CRM_"+e+"_LIST"):
			return "/crm/" + lower + "/list/"
		}
	}
	return "/"
}

// eventForm builds an event POST (event.ONCRM*.json field names). tok nil
// means an action without a user (robot): no tokens in auth.
func (p *Portal) eventForm(event string, handlerID int, data map[string]any, tok *Tokens, userID int) map[string]any {
	auth := map[string]any{
		"domain":            p.Domain(),
		"server_endpoint":   p.o.serverEndpoint(),
		"client_endpoint":   p.ClientEndpoint(),
		"member_id":         p.memberID,
		"application_token": p.ApplicationToken(),
	}
	if tok != nil {
		auth["access_token"] = tok.Access
		auth["expires"] = strconv.FormatInt(tok.Expires.Unix(), 10)
		auth["expires_in"] = strconv.Itoa(tok.ExpiresIn)
		auth["scope"] = p.o.app.Scope
		auth["status"] = "L"
		auth["user_id"] = strconv.Itoa(userID)
		if tok.Refresh != "" {
			auth["refresh_token"] = tok.Refresh
		}
	}
	form := map[string]any{
		"event":            event,
		"event_handler_id": strconv.Itoa(handlerID),
		"ts":               strconv.FormatInt(p.o.Now().Unix(), 10),
		"auth":             auth,
	}
	if data != nil {
		form["data"] = data
	}
	return form
}

// deliver POSTs an event to every online handler bound for it. withRefresh
// adds refresh_token (ONAPPINSTALL and ONOFFLINEEVENT carry it).
func (p *Portal) deliver(ctx context.Context, event string, data map[string]any, userID int, withRefresh bool) ([]Reply, error) {
	name := strings.ToUpper(event)
	p.mu.Lock()
	var binds []EventBinding
	for _, b := range p.eventBinds {
		if b.Event == name && !b.Offline {
			binds = append(binds, b)
		}
	}
	p.mu.Unlock()
	var (
		replies []Reply
		errs    []error
	)
	for _, b := range binds {
		uid := userID
		if b.AuthType > 0 {
			uid = b.AuthType
		}
		var tok *Tokens
		if uid > 0 {
			t := Tokens{ExpiresIn: int(AccessTokenTTL.Seconds())}
			if withRefresh {
				t = p.IssueTokens(uid)
			} else {
				t.Access, t.Expires = p.o.issueAccess(p, uid)
			}
			tok = &t
		}
		form := p.eventForm(name, b.ID, data, tok, uid)
		reply, err := p.post(ctx, b.Handler, bitrix.EncodeQuery(form))
		p.logDelivery(name, b.Handler, form, reply, err)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s → %s: %w", name, b.Handler, err))
			continue
		}
		replies = append(replies, reply)
	}
	return replies, errors.Join(errs...)
}

func (p *Portal) logDelivery(event, handler string, form map[string]any, reply Reply, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deliveries = append(p.deliveries, Delivery{Event: event, Handler: handler, Status: reply.Status, Err: err, Form: form, At: p.o.Now()})
}

// FireEvent POSTs an event (form-encoded, like the real queue) to every
// handler bound for it (names are case-insensitive). Events flow only when
// Installed(); otherwise ErrNotInstalled. userID 0 is a robot: auth carries
// no tokens. The event's access token is that of the binding's AUTH_TYPE
// user when set, else of userID; refresh_token is never sent.
func (p *Portal) FireEvent(ctx context.Context, event string, data map[string]any, userID int) ([]Reply, error) {
	if !p.Installed() {
		return nil, ErrNotInstalled
	}
	return p.deliver(ctx, event, data, userID, false)
}

// fireAuto sends the events queued by REST CRM changes, asynchronously.
func (p *Portal) fireAuto(c *callCtx) {
	if len(c.events) == 0 || !p.Installed() {
		return
	}
	events := c.events
	c.events = nil
	p.events.Add(1)
	go func() {
		defer p.events.Done()
		for _, e := range events {
			data := map[string]any{"FIELDS": map[string]any{"ID": strconv.Itoa(e.id)}}
			_, _ = p.deliver(context.Background(), e.event, data, c.userID, false)
		}
	}()
}

// Uninstall removes the application: tokens are revoked first (the event
// arrives when API access is already gone), ONAPPUNINSTALL (data[CLEAN],
// auth without tokens) goes to bound handlers, bindings are dropped and a
// new application token is prepared for a later reinstall.
func (p *Portal) Uninstall(ctx context.Context, clean bool) ([]Reply, error) {
	p.RevokeAll()
	p.mu.Lock()
	var binds []EventBinding
	for _, b := range p.eventBinds {
		if b.Event == "ONAPPUNINSTALL" && !b.Offline {
			binds = append(binds, b)
		}
	}
	p.eventBinds, p.placements = nil, nil
	p.installed, p.installing = false, false
	p.mu.Unlock()

	cleanFlag := "0"
	if clean {
		cleanFlag = "1"
	}
	data := map[string]any{"LANGUAGE_ID": p.lang, "CLEAN": cleanFlag}
	var (
		replies []Reply
		errs    []error
	)
	for _, b := range binds {
		form := p.eventForm("ONAPPUNINSTALL", b.ID, data, nil, 0)
		reply, err := p.post(ctx, b.Handler, bitrix.EncodeQuery(form))
		p.logDelivery("ONAPPUNINSTALL", b.Handler, form, reply, err)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		replies = append(replies, reply)
	}
	p.mu.Lock()
	p.appToken = randomHex(16)
	p.mu.Unlock()
	return replies, errors.Join(errs...)
}
