package web_test

import (
	"bytes"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/relay24/relay24/placement"
	"github.com/relay24/relay24/web"
)

var langs = []string{"ru", "en"}

// Both languages say everything: every page text and every key of the
// chat's catalogue is present in ru and en, none empty, and where a text
// takes parameters ({n}, %d …) both languages take the same.
func TestCatalogueComplete(t *testing.T) {
	params := regexp.MustCompile(`\{[a-z_]+\}|%[a-z]`)
	ru, en := web.T("ru"), web.T("en")
	rv, ev := reflect.ValueOf(ru), reflect.ValueOf(en)
	for i := range rv.NumField() {
		f := rv.Type().Field(i)
		if f.Type.Kind() != reflect.String {
			continue
		}
		if rv.Field(i).String() == "" || ev.Field(i).String() == "" {
			t.Errorf("page text %s: ru %q, en %q", f.Name, rv.Field(i).String(), ev.Field(i).String())
		}
	}
	if len(ru.UI) < 50 {
		t.Fatalf("the chat's catalogue has %d keys: not the real one", len(ru.UI))
	}
	for _, pair := range [][2]map[string]string{{ru.UI, en.UI}, {en.UI, ru.UI}} {
		for k, v := range pair[0] {
			w, ok := pair[1][k]
			if !ok {
				t.Errorf("key %q is in one language only", k)
				continue
			}
			if strings.TrimSpace(v) == "" || strings.TrimSpace(w) == "" {
				t.Errorf("key %q: empty text (%q / %q)", k, v, w)
			}
			a, b := params.FindAllString(v, -1), params.FindAllString(w, -1)
			slices.Sort(a)
			slices.Sort(b)
			if !slices.Equal(a, b) {
				t.Errorf("key %q: parameters %v in one language, %v in the other", k, a, b)
			}
		}
	}
}

// The words Bitrix24 users know (CONTRACT §7) are the interface's.
func TestContractWords(t *testing.T) {
	for _, c := range []struct {
		key, ru, en string
	}{
		{"general_chat", "Общий чат", "General chat"},
		{"individual_chat", "Индивидуальный чат", "Individual chat"},
		{"no_reply_needed", "Не требует ответа", "No reply needed"},
		{"create_dialog", "Создать диалог", "Create dialog"},
		{"go_to_dialog", "Перейти в диалог", "Go to dialog"},
		{"view_all", "Посмотреть все диалоги", "View all dialogs"},
	} {
		if got := web.T("ru").UI[c.key]; got != c.ru {
			t.Errorf("ru %s: %q, want %q", c.key, got, c.ru)
		}
		if got := web.T("en").UI[c.key]; got != c.en {
			t.Errorf("en %s: %q, want %q", c.key, got, c.en)
		}
	}
	if web.T("ru").GeneralChat != "Общий чат" || web.T("en").IndividualChat != "Individual chat" {
		t.Error("the page titles are not the contract's words")
	}
}

// Every text the chat's scripts ask for by name exists, and so do those
// they build from a state: a message status (CONTRACT §5), a sync phase and
// entity. A missing key shows the key itself to the user.
func TestScriptsFindTheirTexts(t *testing.T) {
	literal := regexp.MustCompile(`\bT\(\s*["']([a-z0-9_]+)["']\s*\)`)
	files, err := filepath.Glob(filepath.Join("static", "*.js"))
	parts, _ := filepath.Glob(filepath.Join("static", "chat", "*.js"))
	files = append(files, parts...)
	if err != nil || len(parts) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	used := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range literal.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = f
		}
	}
	if len(used) < 30 {
		t.Fatalf("found only %d text keys in the scripts: the pattern no longer matches how they ask", len(used))
	}
	for _, s := range []string{"pending", "sent", "delivered", "read", "error"} {
		used["status_"+s] = "a message status"
	}
	for _, s := range []string{"pending", "running", "done", "failed"} {
		used["phase_"+s] = "a sync phase"
	}
	for _, s := range []string{"departments", "users", "contacts", "leads", "deals"} {
		used["sync_"+s] = "a synced entity"
	}
	for _, lang := range langs {
		ui := web.T(lang).UI
		for k, where := range used {
			if _, ok := ui[k]; !ok {
				t.Errorf("%s: %s asks for %q, which the catalogue lacks", lang, where, k)
			}
		}
	}
}

// The portal's LANG picks the language: ru and en as they are, the other
// CIS languages Russian, the other languages English, anything else Russian.
func TestLang(t *testing.T) {
	for in, want := range map[string]string{
		"ru": "ru", "en": "en", "ua": "ru", "by": "ru", "kz": "ru",
		"de": "en", "fr": "en", "pl": "en", "tc": "en", "sc": "en", "br": "en", "la": "en", "ja": "en", "tr": "en",
		"": "ru", "xx": "ru", "russian": "ru", "<script>": "ru",
	} {
		if got := web.Lang(in); got != want {
			t.Errorf("Lang(%q) = %q, want %q", in, got, want)
		}
		if got := web.T(in); got.GeneralChat != web.T(want).GeneralChat {
			t.Errorf("T(%q) is not the %s texts", in, want)
		}
	}
}

// Every page renders in both languages with what its handler passes; the
// chat page hands its script a catalogue that parses back to the language's
// texts, and what comes from outside (user name, domain) is escaped.
func TestTemplatesRender(t *testing.T) {
	a, err := web.New()
	if err != nil {
		t.Fatal(err)
	}
	const hostile = `"><script>alert(1)</script>`
	for _, lang := range langs {
		tx := web.T(lang)
		for _, c := range []struct {
			name string
			data map[string]any
			want []string
		}{
			{"chat.html", map[string]any{"Lang": lang, "T": tx, "Session": "tok.en-1", "UserName": hostile, "Domain": "acme.bitrix24.ru",
				"Target": placement.Target{Placement: placement.LeftMenu}},
				[]string{`<meta name="relay24-session" content="tok.en-1">`, "<title>" + tx.GeneralChat + "</title>", `data-mode="general"`, `lang="` + lang + `"`}},
			{"chat.html", map[string]any{"Lang": lang, "T": tx, "Session": "s", "UserName": "Анна", "Domain": hostile,
				"Target": placement.Target{Placement: placement.DealToolbar, Individual: true, EntityType: "deal", EntityID: 42}},
				[]string{`<meta name="relay24-entity" content="deal:42">`, "<title>" + tx.IndividualChat + "</title>", `data-mode="individual"`}},
			{"install.html", map[string]any{"Lang": lang, "T": tx}, []string{tx.Installed}},
			{"install.html", map[string]any{"Lang": lang, "T": tx, "Error": hostile}, []string{tx.InstallFailed}},
			{"login.html", map[string]any{"Lang": lang, "T": tx}, []string{tx.Login, tx.PortalAddress}},
			{"error.html", map[string]any{"Lang": lang, "Title": tx.NotFound, "Message": hostile}, []string{"<h1>" + tx.NotFound + "</h1>"}},
		} {
			var buf bytes.Buffer
			if err := a.Render(&buf, c.name, c.data); err != nil {
				t.Errorf("%s %s: %v", lang, c.name, err)
				continue
			}
			out := buf.String()
			for _, w := range c.want {
				if !strings.Contains(out, w) && !strings.Contains(out, html.EscapeString(w)) {
					t.Errorf("%s %s: no %q in\n%s", lang, c.name, w, out)
				}
			}
			if strings.Contains(out, "<script>alert(1)") {
				t.Errorf("%s %s: unescaped input in\n%s", lang, c.name, out)
			}
			if strings.Contains(out, "?v=\"") || strings.Contains(out, "?v=&") {
				t.Errorf("%s %s: an asset URL without its checksum", lang, c.name)
			}
			if c.name == "chat.html" {
				checkCatalogue(t, lang, out)
			}
		}
	}
	if err := a.Render(&bytes.Buffer{}, "nonexistent.html", nil); err == nil {
		t.Error("rendering an unknown page did not fail")
	}
}

func checkCatalogue(t *testing.T, lang, page string) {
	t.Helper()
	m := regexp.MustCompile(`(?s)<script id="relay24-texts" type="application/json">(.*?)</script>`).FindStringSubmatch(page)
	if m == nil {
		t.Errorf("%s chat: no texts for the script", lang)
		return
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(m[1]), &got); err != nil {
		t.Errorf("%s chat: the texts are not JSON: %v", lang, err)
		return
	}
	if !reflect.DeepEqual(got, web.T(lang).UI) {
		t.Errorf("%s chat: the script gets other texts than the catalogue's", lang)
	}
}

// The chat's script is its parts in name order inside one function, each
// part once, and (where Node.js is at hand) it parses.
func TestChatBundle(t *testing.T) {
	a, err := web.New()
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	a.Static().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, a.URL("chat.js"), nil))
	body := rec.Body.String()
	if rec.Code != 200 || !strings.Contains(rec.Header().Get("Content-Type"), "javascript") {
		t.Fatalf("chat.js: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if !strings.Contains(body, "(function () {\n\"use strict\";") || !strings.HasSuffix(body, "})();\n") {
		t.Fatal("chat.js is not one function")
	}
	parts, _ := filepath.Glob(filepath.Join("static", "chat", "*.js"))
	at := 0
	for _, p := range parts {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		i := strings.Index(body[at:], string(b))
		if i < 0 || strings.Count(body, string(b)) != 1 {
			t.Fatalf("%s is not in chat.js once, after the parts before it", p)
		}
		at += i + len(b)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Log("no node: chat.js not parsed here (the browser tests run it)")
		return
	}
	f := filepath.Join(t.TempDir(), "chat.js")
	if err := os.WriteFile(f, rec.Body.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(node, "--check", f).CombinedOutput(); err != nil {
		t.Fatalf("chat.js does not parse: %v\n%s", err, out)
	}
}

// Static files are served only under their names; a URL with the current
// checksum may be cached for good, any other must be revalidated.
func TestStaticAssets(t *testing.T) {
	a, err := web.New()
	if err != nil {
		t.Fatal(err)
	}
	h := a.Static()
	url := a.URL("chat.js")
	if !strings.HasPrefix(url, "/static/chat.js?v=") || len(url) <= len("/static/chat.js?v=") {
		t.Fatalf("URL(chat.js) = %q", url)
	}
	for _, c := range []struct {
		path   string
		status int
		cache  string
	}{
		{url, 200, "immutable"},
		{"/static/chat.js?v=old", 200, "no-cache"},
		{"/static/chat.js", 200, "no-cache"},
		{"/static/nope.js", 404, ""},
		{"/static/chat/01-inputs.js", 404, ""}, // a part is served only in its bundle
		{"/static/../web.go", 404, ""},
		{"/static/", 404, ""},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.path, nil))
		if rec.Code != c.status {
			t.Errorf("%s: status %d, want %d", c.path, rec.Code, c.status)
		}
		if c.cache != "" && !strings.Contains(rec.Header().Get("Cache-Control"), c.cache) {
			t.Errorf("%s: Cache-Control %q, want %s", c.path, rec.Header().Get("Cache-Control"), c.cache)
		}
	}
}
