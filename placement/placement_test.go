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

func TestBindParams(t *testing.T) {
	p := Bindings[0].Params("https://relay.example/b24/placement")
	if p["PLACEMENT"] != LeftMenu || p["HANDLER"] != "https://relay.example/b24/placement" || p["TITLE"] != "Общий чат" {
		t.Fatalf("params %v", p)
	}
}
