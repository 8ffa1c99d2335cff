package wztest

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Customer-service windows (channels.md §1.17): a plain message to a chat
// whose client last wrote longer ago than this (or never) is accepted with
// 201 and then fails in a statuses webhook with the code.
const (
	WABAWindow      = 24 * time.Hour
	InstagramWindow = 7 * 24 * time.Hour
	Code24Hours     = "24_HOURS_EXCEEDED"
	Code7Days       = "7_DAYS_EXCEEDED"
)

// Template limits of the filled template (channels.md §1.4).
const (
	maxTemplateBody   = 1024 // MESSAGES_TOO_LONG_WABA_TEMPLATE
	maxTemplateHeader = 60   // MESSAGES_TOO_LONG_WABA_HEADER
)

// Template is a WABA template of the account (GET /v3/templates/whatsapp).
// Status is kept as given (live accounts answer lower case) and compared
// case-insensitively.
type Template struct {
	GUID       string // templateGuid; AddTemplate makes one when empty
	Title      string // name in the Wazzup account
	Name       string // name at Meta
	Channels   []string
	Category   string
	Language   string
	Status     string // approved, pending, rejected, paused, disabled, archived
	Components []TemplateComponent
	// TemplateCode is the live "@template: <guid> { [[headerVar1]]; [[bodyVar1]] }";
	// AddTemplate writes it from the placeholders when empty, unless NoCode.
	TemplateCode string
	NoCode       bool
}

// TemplateComponent is one HEADER, BODY, FOOTER or BUTTONS part.
type TemplateComponent struct {
	Type    string           `json:"type"`
	Format  string           `json:"format,omitempty"`
	Text    string           `json:"text,omitempty"`
	Example []string         `json:"example,omitempty"`
	Buttons []TemplateButton `json:"buttons,omitempty"`
}

// TemplateButton is a button of a BUTTONS component.
type TemplateButton struct {
	Type string `json:"type"`
	Text string `json:"text"`
	URL  string `json:"url,omitempty"`
}

var placeholderRE = regexp.MustCompile(`\{\{\s*(\d+)\s*\}\}`)

func distinctPlaceholders(s string) int {
	seen := map[string]bool{}
	for _, m := range placeholderRE.FindAllStringSubmatch(s, -1) {
		seen[m[1]] = true
	}
	return len(seen)
}

// headerVars, bodyVars and buttonVars count a template's {{n}} in Meta's
// order, which is the order of templateValues.
func (t *Template) counts() (header, body, buttons int) {
	for _, c := range t.Components {
		switch strings.ToUpper(c.Type) {
		case "HEADER":
			header += distinctPlaceholders(c.Text)
		case "BODY":
			body += distinctPlaceholders(c.Text)
		case "BUTTONS":
			for _, b := range c.Buttons {
				if strings.EqualFold(b.Type, "URL") {
					buttons += distinctPlaceholders(b.URL)
				}
			}
		}
	}
	return
}

// Variables is how many templateValues a send of the template must carry.
func (t *Template) Variables() int {
	h, b, u := t.counts()
	return h + b + u
}

func (t *Template) code() string {
	h, b, u := t.counts()
	var vars []string
	for i := 1; i <= h; i++ {
		vars = append(vars, fmt.Sprintf("[[headerVar%d]]", i))
	}
	for i := 1; i <= b; i++ {
		vars = append(vars, fmt.Sprintf("[[bodyVar%d]]", i))
	}
	for i := 1; i <= u; i++ {
		vars = append(vars, fmt.Sprintf("[[buttonVar%d]]", i))
	}
	return "@template: " + t.GUID + " { " + strings.Join(vars, "; ") + " }"
}

// fill substitutes the values of a component's text; off is the index of
// its first value.
func fill(text string, values []string, off int) string {
	return placeholderRE.ReplaceAllStringFunc(text, func(m string) string {
		n, _ := strconv.Atoi(placeholderRE.FindStringSubmatch(m)[1])
		if i := off + n - 1; n > 0 && i < len(values) {
			return values[i]
		}
		return m
	})
}

// filled returns the header and body with the values in.
func (t *Template) filled(values []string) (header, body string) {
	h, _, _ := t.counts()
	for _, c := range t.Components {
		switch strings.ToUpper(c.Type) {
		case "HEADER":
			header = fill(c.Text, values, 0)
		case "BODY":
			body = fill(c.Text, values, h)
		}
	}
	return header, body
}

// AddTemplate adds (or replaces, by GUID) a template of the account and
// returns it as stored.
func (a *Account) AddTemplate(t Template) Template {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	if t.GUID == "" {
		t.GUID = newUUID()
	}
	if t.TemplateCode == "" && !t.NoCode {
		t.TemplateCode = t.code()
	}
	t.Channels = append([]string(nil), t.Channels...)
	t.Components = append([]TemplateComponent(nil), t.Components...)
	for i, old := range a.templates {
		if old.GUID == t.GUID {
			a.templates[i] = &t
			return t
		}
	}
	a.templates = append(a.templates, &t)
	return t
}

// Templates lists the account's templates in the order added.
func (a *Account) Templates() []Template {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	out := make([]Template, len(a.templates))
	for i, t := range a.templates {
		out[i] = *t
	}
	return out
}

// template finds a template by guid; the caller holds the lock.
func (a *Account) template(guid string) *Template {
	for _, t := range a.templates {
		if t.GUID == guid {
			return t
		}
	}
	return nil
}

// SetTemplateStatus changes a template's moderation status as Meta would
// and, with templateStatus on, POSTs {"templateStatus":{templateGuid, name,
// status}}. A missing subscription is ErrNoWebhook; the status changes
// anyway.
func (a *Account) SetTemplateStatus(ctx context.Context, guid, status string) error {
	a.s.mu.Lock()
	t := a.template(guid)
	if t == nil {
		a.s.mu.Unlock()
		return fmt.Errorf("wztest: unknown template %s", guid)
	}
	t.Status = status
	name := t.Name
	a.s.mu.Unlock()
	return a.PostTemplateStatus(ctx, guid, name, status)
}

// SetLastInbound declares when the client of a chat last wrote, as if the
// emulator had delivered that message (zero: never), for the window checks.
func (a *Account) SetLastInbound(channelID, chatType, chatID string, at time.Time) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	a.chatOf(chatKey{channelID, chatType, chatID}).lastInbound = at
}

// listTemplates is GET /v3/templates/whatsapp?limit&offset: a bare array
// (the envelope is not documented; channels.md §1.17).
func (a *Account) listTemplates(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	num := func(key string, def int) (int, bool) {
		v := q.Get(key)
		if v == "" {
			return def, true
		}
		n, err := strconv.Atoi(v)
		return n, err == nil && n >= 0
	}
	limit, okL := num("limit", 100)
	offset, okO := num("offset", 0)
	if !okL || !okO || limit == 0 {
		var bad []string
		if !okL || limit == 0 {
			bad = append(bad, "limit")
		}
		if !okO {
			bad = append(bad, "offset")
		}
		fail(w, http.StatusBadRequest, "VALIDATION_ERROR", "limit and offset must be numbers", map[string]any{"fields": bad})
		return
	}
	type wire struct {
		TemplateGUID   string              `json:"templateGuid"`
		AccountID      int64               `json:"accountId"`
		Title          string              `json:"title"`
		Name           string              `json:"name"`
		Waba           map[string]string   `json:"waba"`
		Channels       []string            `json:"channels"`
		Category       string              `json:"category"`
		Language       string              `json:"language"`
		Status         string              `json:"status"`
		RejectedReason string              `json:"rejected_reason"`
		Namespace      string              `json:"namespace"`
		Components     []TemplateComponent `json:"components"`
		TemplateCode   string              `json:"templateCode,omitempty"`
	}
	a.s.mu.Lock()
	out := []wire{}
	for i := offset; i < len(a.templates) && len(out) < limit; i++ {
		t := a.templates[i]
		channels := t.Channels
		if channels == nil {
			channels = []string{}
		}
		comps := t.Components
		if comps == nil {
			comps = []TemplateComponent{}
		}
		reason := ""
		if strings.EqualFold(t.Status, "rejected") {
			reason = "INVALID_FORMAT"
		}
		out = append(out, wire{
			TemplateGUID: t.GUID, AccountID: 12345678, Title: t.Title, Name: t.Name,
			Waba:     map[string]string{"wabaId": "104996122399160", "wabaName": "WABA"},
			Channels: channels, Category: t.Category, Language: t.Language, Status: t.Status,
			RejectedReason: reason, Namespace: "c8ae5f90_307a_ca4c_b8f6_d1e2a2573574",
			Components: comps, TemplateCode: t.TemplateCode,
		})
	}
	a.s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// checkTemplate applies the template checks of a send on a channel; the
// caller holds the lock. The answers to a wrong template or wrong values
// are not documented (channels.md §1.17 [UNCONFIRMED]); these are the
// closest documented codes (ASSUMPTIONS.md).
func (a *Account) checkTemplate(b SendBody, ch *Channel) (code, desc string, data any) {
	if b.TemplateID == "" {
		if b.TemplateValues != nil {
			return "INVALID_MESSAGE_DATA", "Message data is invalid", map[string]any{"fields": []string{"templateValues"}}
		}
		return "", "", nil
	}
	if b.Text != "" || b.ContentURI != "" {
		return "VALIDATION_ERROR", "A template is sent without text or contentUri", map[string]any{"fields": []string{"templateId"}}
	}
	if !strings.EqualFold(ch.Transport, "wapi") {
		return "INVALID_MESSAGE_DATA", "Templates are sent through WABA channels only", map[string]any{"fields": []string{"templateId"}}
	}
	t := a.template(b.TemplateID)
	bound := false
	if t != nil {
		for _, c := range t.Channels {
			bound = bound || c == ch.ChannelID
		}
	}
	if !bound {
		return "INVALID_MESSAGE_DATA", "Template not found for this channel", map[string]any{"fields": []string{"templateId"}}
	}
	if !strings.EqualFold(t.Status, "approved") {
		return "TEMPLATE_REJECTED", "The template is not approved; try another or wait for incoming", map[string]string{"templateId": t.GUID, "status": t.Status}
	}
	want := t.Variables()
	empty := false
	for _, v := range b.TemplateValues {
		empty = empty || strings.TrimSpace(v) == ""
	}
	if len(b.TemplateValues) != want || empty {
		return "VALIDATION_ERROR", fmt.Sprintf("The template takes %d non-empty values", want),
			map[string]any{"fields": []string{"templateValues"}, "expected": want, "got": len(b.TemplateValues)}
	}
	header, body := t.filled(b.TemplateValues)
	if jsLength(header) > maxTemplateHeader {
		return "MESSAGES_TOO_LONG_WABA_HEADER", fmt.Sprintf("Template header is longer than %d characters", maxTemplateHeader), nil
	}
	if jsLength(body) > maxTemplateBody {
		return "MESSAGES_TOO_LONG_WABA_TEMPLATE", fmt.Sprintf("Template text is longer than %d characters", maxTemplateBody), nil
	}
	return "", "", nil
}

// windowClosed says which window error a plain send at now to the chat
// earns ("" when it may go); the caller holds the lock. A template opens
// nothing and is never refused for the window.
func (a *Account) windowClosed(ch *Channel, b SendBody, c *chat, now time.Time) string {
	if b.TemplateID != "" {
		return ""
	}
	var d time.Duration
	var code string
	switch strings.ToLower(ch.Transport) {
	case "wapi":
		d, code = WABAWindow, Code24Hours
	case "instagram":
		d, code = InstagramWindow, Code7Days
	default:
		return ""
	}
	if c.lastInbound.IsZero() || !now.Before(c.lastInbound.Add(d)) {
		return code
	}
	return ""
}

// echoAndWindowError plays what follows a send outside the window: the
// echo, then one statuses item with status error and the window's code
// (channels.md §1.17: the INFERRED fixture's shape).
func (a *Account) echoAndWindowError(m message, authorName string, contact *whContact, code string) {
	ctx := a.s.ctx
	a.s.mu.Lock()
	item := a.echoItem(m, authorName, contact, a.s.clock())
	a.s.mu.Unlock()
	if _, err := a.deliver(ctx, mustJSON(whMessages{Messages: []whMessage{item}}), true); err != nil && ctx.Err() != nil {
		return
	}
	_ = a.PostStatus(ctx, m.id, "error", code)
}

// templateText is what the echo of a template send carries: the filled
// body. The caller holds the lock.
func (a *Account) templateText(b SendBody) string {
	if t := a.template(b.TemplateID); t != nil {
		_, body := t.filled(b.TemplateValues)
		return body
	}
	return ""
}
