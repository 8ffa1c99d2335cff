package placement

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"unicode/utf8"
)

// documentedOpen reads PLACEMENT and PLACEMENT_OPTIONS from a documented
// placement POST (a PHP print_r dump of $_REQUEST).
func documentedOpen(t testing.TB, name string) (code, options string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	field := func(key string) string {
		m := regexp.MustCompile(`(?m)^\s*\[` + key + `\] => (.*)$`).FindSubmatch(b)
		if m == nil {
			return ""
		}
		return string(m[1])
	}
	return field("PLACEMENT"), field("PLACEMENT_OPTIONS")
}

func documentedOpens(t testing.TB) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", "*.print_r.txt"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no documented placement POSTs: %v", err)
	}
	for i, n := range names {
		names[i] = filepath.Base(n)
	}
	return names
}

func TestParseDocumentedOpens(t *testing.T) {
	want := map[string]Target{
		"app-open.POST.DEFAULT.print_r.txt":                  {Placement: Default},
		"placement.LEFT_MENU.POST.print_r.txt":               {Placement: LeftMenu},
		"placement.CRM_DEAL_DETAIL_TOOLBAR.POST.print_r.txt": {Placement: DealToolbar, Individual: true, EntityType: "deal", EntityID: 8061},
	}
	for _, name := range documentedOpens(t) {
		code, opts := documentedOpen(t, name)
		got, err := Parse(code, opts)
		w, bound := want[name]
		switch {
		case !bound && err == nil:
			t.Errorf("%s: %s is not bound by relay24 but was accepted as %+v", name, code, got)
		case bound && (err != nil || got != w):
			t.Errorf("%s: %+v, %v; want %+v", name, got, err, w)
		}
	}
}

// FuzzParse: no PLACEMENT / PLACEMENT_OPTIONS pair makes Parse panic, and
// what it accepts is well-formed: one of the codes relay24 binds, spelled
// canonically, and an individual chat exactly when it names a CRM entity
// with a positive id.
func FuzzParse(f *testing.F) {
	for _, name := range documentedOpens(f) {
		code, opts := documentedOpen(f, name)
		f.Add(code, opts)
	}
	for _, s := range [][2]string{
		{"left_menu", ""}, {" DEFAULT ", "undefined"}, {"", "[]"},
		{"CRM_LEAD_DETAIL_TOOLBAR", `{"ENTITY_ID":"7"}`}, {"crm_contact_detail_toolbar", `{"ID":12}`},
		{"CRM_DEAL_DETAIL_TOOLBAR", `{"ID":"1e3"}`}, {"CRM_DEAL_DETAIL_TOOLBAR", `{"ID":9223372036854775808}`},
		{"CRM_DEAL_DETAIL_TOOLBAR", `{"ID":"5\u0000"}`}, {"CRM_DEAL_DETAIL_TOOLBAR", "{\"ID\":\"5\xff\"}"},
	} {
		f.Add(s[0], s[1])
	}
	entity := map[string]string{DealToolbar: "deal", LeadToolbar: "lead", ContactToolbar: "contact"}
	f.Fuzz(func(t *testing.T, code, options string) {
		got, err := Parse(code, options)
		if err != nil {
			return
		}
		if !utf8.ValidString(got.Placement) || !utf8.ValidString(got.EntityType) {
			t.Fatalf("accepted as %+v", got)
		}
		switch got.Placement {
		case Default, LeftMenu:
			if got.Individual || got.EntityType != "" || got.EntityID != 0 {
				t.Fatalf("general chat with an entity: %+v", got)
			}
		case DealToolbar, LeadToolbar, ContactToolbar:
			if !got.Individual || got.EntityType != entity[got.Placement] || got.EntityID <= 0 {
				t.Fatalf("individual chat without its entity: %+v", got)
			}
		default:
			t.Fatalf("accepted placement %q, which relay24 does not bind", got.Placement)
		}
		if again, err := Parse(code, options); err != nil || again != got {
			t.Fatalf("Parse is not deterministic: %+v, %v", again, err)
		}
	})
}
