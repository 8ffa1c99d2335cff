package placement

import "testing"

func TestParse(t *testing.T) {
	cases := []struct {
		code, opts string
		want       Target
		bad        bool
	}{
		{code: "LEFT_MENU", opts: `{"URI":"\/crm\/lead\/list\/"}`, want: Target{Placement: "LEFT_MENU"}},
		{code: "DEFAULT", opts: "", want: Target{Placement: "DEFAULT"}},
		{code: "", opts: "", want: Target{Placement: "DEFAULT"}},
		// The canonical code, whatever the spelling posted.
		{code: " left_menu ", opts: "", want: Target{Placement: "LEFT_MENU"}},
		{code: "default", opts: "{}", want: Target{Placement: "DEFAULT"}},
		{code: "CRM_DEAL_DETAIL_TOOLBAR", opts: `{"ID":"8061","URI":"\/crm\/deal\/details\/8061\/?any=details%2F8061%2F"}`,
			want: Target{Placement: "CRM_DEAL_DETAIL_TOOLBAR", Individual: true, EntityType: "deal", EntityID: 8061}},
		{code: "CRM_LEAD_DETAIL_TOOLBAR", opts: `{"ID":7}`, want: Target{Placement: "CRM_LEAD_DETAIL_TOOLBAR", Individual: true, EntityType: "lead", EntityID: 7}},
		{code: "CRM_CONTACT_DETAIL_TOOLBAR", opts: `{"ID":"12"}`, want: Target{Placement: "CRM_CONTACT_DETAIL_TOOLBAR", Individual: true, EntityType: "contact", EntityID: 12}},
		{code: "CRM_DEAL_DETAIL_TOOLBAR", opts: `{"ID":"abc"}`, bad: true},
		{code: "CRM_DEAL_DETAIL_TOOLBAR", opts: `{not json`, bad: true},
		{code: "CRM_DEAL_DETAIL_TOOLBAR", opts: `undefined`, bad: true},
		{code: "CRM_DEAL_DETAIL_TOOLBAR", opts: `{"ID":"-4"}`, bad: true},
		{code: "TASK_VIEW_TAB", opts: `{"ID":"1"}`, bad: true},
	}
	for _, c := range cases {
		got, err := Parse(c.code, c.opts)
		if c.bad {
			if err == nil {
				t.Errorf("Parse(%q, %q) = %+v, want error", c.code, c.opts, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Parse(%q, %q) = %+v, %v; want %+v", c.code, c.opts, got, err, c.want)
		}
	}
}

// The placements bound are CONTRACT §3's, each with the parameters
// placement.bind documents (bitrix24.md §e), spelled as documented; the left
// menu item carries the general chat's name (CONTRACT §7). Literals here, not
// the package's constants, so that a wrong table fails.
func TestBindParams(t *testing.T) {
	const handler = "https://relay.example/b24/placement"
	want := map[string]bool{"LEFT_MENU": true, "CRM_DEAL_DETAIL_TOOLBAR": true, "CRM_LEAD_DETAIL_TOOLBAR": true, "CRM_CONTACT_DETAIL_TOOLBAR": true}
	documented := map[string]bool{"PLACEMENT": true, "HANDLER": true, "TITLE": true, "DESCRIPTION": true, "GROUP_NAME": true, "LANG_ALL": true, "OPTIONS": true, "USER_ID": true}
	seen := map[string]bool{}
	for _, b := range Bindings {
		p := b.Params(handler)
		code, _ := p["PLACEMENT"].(string)
		if !want[code] || seen[code] || p["HANDLER"] != handler {
			t.Errorf("placement.bind %v: want each of %v once, HANDLER %s", p, want, handler)
		}
		seen[code] = true
		for k := range p {
			if !documented[k] {
				t.Errorf("%s: parameter %q is not documented for placement.bind", code, k)
			}
		}
		if code == "LEFT_MENU" {
			langs, _ := p["LANG_ALL"].(map[string]any)
			ru, _ := langs["ru"].(map[string]any)
			en, _ := langs["en"].(map[string]any)
			if p["TITLE"] != "Общий чат" || ru["TITLE"] != "Общий чат" || en["TITLE"] != "General chat" {
				t.Errorf("left menu titles %v", p)
			}
		}
	}
	if len(seen) != len(want) {
		t.Errorf("bound %v, want %v", seen, want)
	}
}
