// Package placement knows the Bitrix24 placements relay24 binds (CONTRACT §3),
// what they are bound with, and how a placement open is read into the CRM
// entity it was opened on.
package placement

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Codes of the placements relay24 binds.
const (
	LeftMenu       = "LEFT_MENU"
	DealToolbar    = "CRM_DEAL_DETAIL_TOOLBAR"
	LeadToolbar    = "CRM_LEAD_DETAIL_TOOLBAR"
	ContactToolbar = "CRM_CONTACT_DETAIL_TOOLBAR"
	Default        = "DEFAULT" // the app's own page, not bound
)

// Binding is one placement.bind call.
type Binding struct {
	Placement string
	Title     map[string]string // by language
}

// Bindings are the placements bound at install, in order.
var Bindings = []Binding{
	{Placement: LeftMenu, Title: map[string]string{"ru": "Общий чат", "en": "General chat"}},
	{Placement: DealToolbar, Title: map[string]string{"ru": "Чат с клиентом", "en": "Client chat"}},
	{Placement: LeadToolbar, Title: map[string]string{"ru": "Чат с клиентом", "en": "Client chat"}},
	{Placement: ContactToolbar, Title: map[string]string{"ru": "Чат с клиентом", "en": "Client chat"}},
}

// Events are the portal events bound at install (ONAPPINSTALL is delivered to
// the install handler by the portal itself and need not be bound).
var Events = []string{
	"ONCRMCONTACTADD", "ONCRMCONTACTUPDATE", "ONCRMCONTACTDELETE",
	"ONCRMDEALADD", "ONCRMDEALUPDATE", "ONCRMDEALDELETE",
	"ONCRMLEADADD", "ONCRMLEADUPDATE", "ONCRMLEADDELETE",
	"ONAPPUNINSTALL",
}

// Params are the placement.bind parameters of b for handler.
func (b Binding) Params(handler string) map[string]any {
	langAll := map[string]any{}
	for lang, title := range b.Title {
		langAll[lang] = map[string]any{"TITLE": title}
	}
	return map[string]any{
		"PLACEMENT": b.Placement,
		"HANDLER":   handler,
		"TITLE":     b.Title["ru"],
		"LANG_ALL":  langAll,
	}
}

// Target is what a page was opened on.
type Target struct {
	Placement  string
	Individual bool   // true: the individual chat of an entity
	EntityType string // deal, lead or contact
	EntityID   int64
}

// Parse reads PLACEMENT and PLACEMENT_OPTIONS. Options are a JSON object of
// strings; the portal may also send nothing, "undefined" or "[]".
func Parse(code, options string) (Target, error) {
	t := Target{Placement: strings.ToUpper(strings.TrimSpace(code))}
	switch t.Placement {
	case "", Default:
		// The canonical code, never the posted spelling: the target goes into
		// the page as it is.
		t.Placement = Default
		return t, nil
	case LeftMenu:
		t.Placement = LeftMenu
		return t, nil
	case DealToolbar:
		t.EntityType = "deal"
	case LeadToolbar:
		t.EntityType = "lead"
	case ContactToolbar:
		t.EntityType = "contact"
	default:
		return t, fmt.Errorf("placement %q is not one relay24 binds", code)
	}
	t.Individual = true
	opts, err := parseOptions(options)
	if err != nil {
		return t, err
	}
	raw := opts["ID"]
	if raw == "" {
		raw = opts["ENTITY_ID"]
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return t, fmt.Errorf("PLACEMENT_OPTIONS of %s has no valid ID (%q)", t.Placement, raw)
	}
	t.EntityID = id
	return t, nil
}

func parseOptions(s string) (map[string]string, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "undefined" || s == "[]" {
		return map[string]string{}, nil
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, fmt.Errorf("PLACEMENT_OPTIONS is not a JSON object: %w", err)
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		switch t := v.(type) {
		case string:
			out[k] = t
		case float64:
			out[k] = strconv.FormatFloat(t, 'f', -1, 64)
		}
	}
	return out, nil
}
