package store_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store"
)

func guids(ts []store.Template) string {
	var out []string
	for _, t := range ts {
		out = append(out, t.GUID)
	}
	return strings.Join(out, ",")
}

// A gateway's templates are replaced whole (ids kept for those still
// listed), offered on a channel only when approved (in any case) and bound
// to it, updated one by one from the templateStatus webhook, and neither
// listed nor found through another portal, whose own list is its own.
func TestTemplatesReplaceUsableAndIsolation(t *testing.T) {
	l := newLab(t)
	p, other := l.portal("tpl-a"), l.portal("tpl-b")
	waba := l.channel(p, "wapi")
	wch, err := l.s.ChannelByID(l.ctx, p, waba)
	if err != nil {
		t.Fatal(err)
	}
	// A second channel of the same gateway.
	second := &store.Channel{PortalID: p, GatewayID: wch.GatewayID, ExternalID: "ch-second", Provider: "wazzup", Transport: "wapi", State: "active"}
	if err := l.s.UpsertChannel(l.ctx, second); err != nil {
		t.Fatal(err)
	}
	foreignCh := l.channel(other, "wapi")
	fch, err := l.s.ChannelByID(l.ctx, other, foreignCh)
	if err != nil {
		t.Fatal(err)
	}

	fetched := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	ts := []store.Template{
		{GUID: "g-b", Title: "b Беседа", Text: "Здравствуйте, {{1}}!", Variables: 1, Status: "APPROVED", Channels: []string{wch.ExternalID}, Language: "ru",
			Raw: json.RawMessage(`{"templateGuid":"g-b"}`)},
		{GUID: "g-a", Title: "a акция", Text: "Скидка", Status: "approved", Channels: []string{wch.ExternalID, "ch-second"}},
		{GUID: "g-p", Title: "p pending", Status: "pending", Channels: []string{wch.ExternalID}},
		{GUID: "g-o", Title: "o other channel", Status: "approved", Channels: []string{"ch-second"}},
		{GUID: "g-x", Title: "x gone next time", Status: "approved", Channels: []string{wch.ExternalID}},
	}
	if err := l.s.ReplaceTemplates(l.ctx, p, wch.GatewayID, ts, fetched); err != nil {
		t.Fatal(err)
	}
	if err := l.s.ReplaceTemplates(l.ctx, other, fch.GatewayID, []store.Template{
		{GUID: "g-a", Title: "foreign", Status: "approved", Channels: []string{fch.ExternalID}}}, fetched); err != nil {
		t.Fatal(err)
	}
	usable, err := l.s.UsableTemplates(l.ctx, p, waba)
	if err != nil {
		t.Fatal(err)
	}
	if got := guids(usable); got != "g-a,g-b,g-x" {
		t.Errorf("usable on the WABA channel: %s", got)
	}
	b := usable[1]
	if b.Status != "approved" || b.Text != "Здравствуйте, {{1}}!" || b.Variables != 1 || b.Language != "ru" || b.PortalID != p ||
		!b.FetchedAt.Equal(fetched) || !strings.Contains(string(b.Raw), "g-b") || len(b.Channels) != 1 {
		t.Errorf("template %+v", b)
	}
	if got, _ := l.s.UsableTemplates(l.ctx, p, second.ID); guids(got) != "g-a,g-o" {
		t.Errorf("usable on the second channel: %s", guids(got))
	}
	if got, _ := l.s.UsableTemplates(l.ctx, p, foreignCh); len(got) != 0 {
		t.Errorf("another portal's channel lists %s", guids(got))
	}
	if got, _ := l.s.UsableTemplates(l.ctx, other, foreignCh); guids(got) != "g-a" || got[0].Title != "foreign" {
		t.Errorf("the other portal's own list: %+v", got)
	}
	if tp, err := l.s.UsableTemplate(l.ctx, p, waba, "g-b"); err != nil || tp.ID != b.ID {
		t.Errorf("usable g-b: %+v %v", tp, err)
	}
	for name, c := range map[string]struct {
		portal, channel int64
		guid            string
	}{
		"pending":                   {p, waba, "g-p"},
		"another channel's":         {p, waba, "g-o"},
		"unknown":                   {p, waba, "nope"},
		"through another portal":    {other, waba, "g-a"},
		"another portal's, by mine": {p, foreignCh, "g-a"},
	} {
		if _, err := l.s.UsableTemplate(l.ctx, c.portal, c.channel, c.guid); !problem.Is(err, problem.NotFound) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := l.s.ReplaceTemplates(l.ctx, other, wch.GatewayID, nil, fetched); !problem.Is(err, problem.NotFound) {
		t.Errorf("replacing another portal's gateway: %v", err)
	}
	if all, _ := l.s.Templates(l.ctx, p, wch.GatewayID); len(all) != 5 {
		t.Errorf("a refused replace changed the list: %s", guids(all))
	}

	// The status webhook: found by guid within the gateway only.
	at := fetched.Add(time.Hour)
	if ok, err := l.s.SetTemplateStatus(l.ctx, wch.GatewayID, "g-p", "APPROVED", at); !ok || err != nil {
		t.Fatalf("status: %v %v", ok, err)
	}
	if ok, _ := l.s.SetTemplateStatus(l.ctx, wch.GatewayID, "unknown", "approved", at); ok {
		t.Error("an unknown template reported as updated")
	}
	if ok, _ := l.s.SetTemplateStatus(l.ctx, fch.GatewayID, "g-b", "rejected", at); ok {
		t.Error("another gateway updated this gateway's template")
	}
	if ok, _ := l.s.SetTemplateStatus(l.ctx, wch.GatewayID, "g-b", "rejected", at); !ok {
		t.Error("g-b not updated")
	}
	if got, _ := l.s.UsableTemplates(l.ctx, p, waba); guids(got) != "g-a,g-p,g-x" {
		t.Errorf("after the status changes: %s", guids(got))
	}

	// A new fetch replaces: g-x is gone, g-a keeps its id, g-n is new.
	before, _ := l.s.Templates(l.ctx, p, wch.GatewayID)
	idOf := map[string]int64{}
	for _, tp := range before {
		idOf[tp.GUID] = tp.ID
	}
	next := []store.Template{
		{GUID: "g-a", Title: "a акция", Text: "Скидка {{1}}", Variables: 1, Status: "approved", Channels: []string{wch.ExternalID}},
		{GUID: "g-n", Title: "n new", Status: "approved", Channels: []string{wch.ExternalID}},
		{GUID: "g-n", Title: "n new, the later copy", Status: "approved", Channels: []string{wch.ExternalID}},
	}
	if err := l.s.ReplaceTemplates(l.ctx, p, wch.GatewayID, next, fetched.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	all, _ := l.s.Templates(l.ctx, p, wch.GatewayID)
	if guids(all) != "g-a,g-n" || all[0].ID != idOf["g-a"] || all[0].Variables != 1 || all[1].Title != "n new, the later copy" {
		t.Errorf("after the second fetch: %+v", all)
	}
	if got, _ := l.s.Templates(l.ctx, other, fch.GatewayID); guids(got) != "g-a" {
		t.Errorf("the other portal's list changed: %s", guids(got))
	}
	if err := l.s.ReplaceTemplates(l.ctx, p, wch.GatewayID, []store.Template{{GUID: " "}}, fetched); err == nil {
		t.Error("a template without guid accepted")
	}
	// Hostile text is stored as shown rather than refused.
	if err := l.s.ReplaceTemplates(l.ctx, p, wch.GatewayID, []store.Template{{GUID: "g-bad", Title: "a\x00b", Status: "approved",
		Raw: json.RawMessage(`{"t":"\u0000"}`)}}, fetched); err != nil {
		t.Errorf("hostile template: %v", err)
	}
	// Deleting the portal takes its templates.
	if _, err := l.db.ExecContext(l.ctx, `DELETE FROM portals WHERE id = $1`, other); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := l.db.GetContext(l.ctx, &n, `SELECT count(*) FROM waba_templates WHERE portal_id = $1`, other); err != nil || n != 0 {
		t.Errorf("%d templates left of a deleted portal (%v)", n, err)
	}
}

// The window reads the dialog's channel transport and its client's newest
// message time, filed by the store: an answer does not move it, an older
// client message delivered late does not either, and another portal's
// dialog is not found.
func TestDialogWindowOf(t *testing.T) {
	l := newLab(t)
	p, other := l.portal("win-a"), l.portal("win-b")
	ch := l.channel(p, "wapi")
	d := l.dialog(p, ch, 0, 0)
	w, err := l.s.DialogWindowOf(l.ctx, p, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if w.Transport != "wapi" || w.ChannelID != ch || w.LastInAt.Valid || w.ExternalChannelID == "" || w.GatewayID == 0 {
		t.Errorf("fresh dialog %+v", w)
	}
	l.msg(d, "in", "inbound", 10)
	l.msg(d, "out", "sent", 20)
	l.msg(d, "in", "inbound", 5) // late delivery of an older message
	if w, _ = l.s.DialogWindowOf(l.ctx, p, d.ID); !w.LastInAt.Valid || !w.LastInAt.Time.Equal(l.at(10)) {
		t.Errorf("last in %v, want minute 10", w.LastInAt)
	}
	l.msg(d, "in", "inbound", 30)
	if w, _ = l.s.DialogWindowOf(l.ctx, p, d.ID); !w.LastInAt.Time.Equal(l.at(30)) {
		t.Errorf("last in %v, want minute 30", w.LastInAt)
	}
	if _, err := l.s.DialogWindowOf(l.ctx, other, d.ID); !problem.Is(err, problem.NotFound) {
		t.Errorf("another portal's dialog: %v", err)
	}
}
