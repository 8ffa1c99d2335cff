package b24test_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/relay24/relay24/bitrix"
	"github.com/relay24/relay24/bitrix/b24test"
)

var testApp = b24test.App{
	ClientID:     "local.66ba434d853c87.18550109",
	ClientSecret: "LJSl0lNB76B5YY6u0YVQ3AW0DrVADcRTwVr4y99PXU1BWQybWK",
	RedirectURI:  "http://app.example/oauth/callback",
}

// env is one OAuth server with one portal and an admin token.
type env struct {
	t   testing.TB
	o   *b24test.OAuth
	p   *b24test.Portal
	tok b24test.Tokens
}

func newEnv(t *testing.T, opts b24test.PortalOptions) *env {
	t.Helper()
	o := b24test.NewOAuth(testApp)
	t.Cleanup(o.Close)
	p := o.NewPortal(opts)
	return &env{t: t, o: o, p: p, tok: p.IssueTokens(1)}
}

// answer is a decoded REST answer.
type answer struct {
	Status int
	Body   map[string]any
	Raw    []byte
}

// call POSTs JSON params (auth added) to /rest/{method}.
func (e *env) call(method string, params map[string]any) answer {
	e.t.Helper()
	return e.callAs(e.tok.Access, method, params)
}

func (e *env) callAs(token, method string, params map[string]any) answer {
	e.t.Helper()
	body := map[string]any{}
	for k, v := range params {
		body[k] = v
	}
	if token != "" {
		body["auth"] = token
	}
	b, err := json.Marshal(body)
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.Post(e.p.ClientEndpoint()+method, "application/json", bytes.NewReader(b))
	if err != nil {
		e.t.Fatal(err)
	}
	return readAnswer(e.t, resp)
}

// callForm POSTs a form body (PHP bracket syntax) to /rest/{method}.json.
func (e *env) callForm(method string, params map[string]any) answer {
	e.t.Helper()
	params["auth"] = e.tok.Access
	resp, err := http.Post(e.p.ClientEndpoint()+method+".json", "application/x-www-form-urlencoded", strings.NewReader(bitrix.EncodeQuery(params)))
	if err != nil {
		e.t.Fatal(err)
	}
	return readAnswer(e.t, resp)
}

func readAnswer(t testing.TB, resp *http.Response) answer {
	t.Helper()
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{Status: resp.StatusCode, Raw: raw}
	if err := json.Unmarshal(raw, &a.Body); err != nil {
		t.Fatalf("answer is not a JSON object: %v: %s", err, raw)
	}
	return a
}

func (a answer) mustOK(t testing.TB) answer {
	t.Helper()
	if a.Status != http.StatusOK || a.Body["error"] != nil {
		t.Fatalf("want success, got %d %s", a.Status, a.Raw)
	}
	return a
}

func (a answer) list(t *testing.T) []map[string]any {
	t.Helper()
	items, ok := a.Body["result"].([]any)
	if !ok {
		t.Fatalf("result is not a list: %s", a.Raw)
	}
	out := make([]map[string]any, len(items))
	for i, it := range items {
		out[i] = it.(map[string]any)
	}
	return out
}

func fixtureBytes(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fixtureJSON(t *testing.T, name string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(fixtureBytes(t, name), &m); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// assertKeysCover fails when got lacks a key of want (ignoring the custom
// fields the fixtures' portals had: UF_*, PARENT_ID_*).
func assertKeysCover(t *testing.T, what string, want, got map[string]any) {
	t.Helper()
	for _, k := range keys(want) {
		if strings.HasPrefix(k, "UF_CRM_") || strings.HasPrefix(k, "PARENT_ID_") {
			continue
		}
		if _, ok := got[k]; !ok {
			t.Errorf("%s: missing key %q (have %v)", what, k, keys(got))
		}
	}
}

func assertSameKeys(t *testing.T, what string, want, got map[string]any) {
	t.Helper()
	if !slices.Equal(keys(want), keys(got)) {
		t.Errorf("%s: keys %v, want %v", what, keys(got), keys(want))
	}
}

// assertErrorFixture checks an error answer against a fixture verbatim.
func assertErrorFixture(t *testing.T, a answer, status int, fixture string) {
	t.Helper()
	if a.Status != status {
		t.Errorf("status %d, want %d (%s)", a.Status, status, a.Raw)
	}
	want := fixtureJSON(t, fixture)
	if !jsonEqual(want, a.Body) {
		t.Errorf("body %s, want %v", a.Raw, want)
	}
}

func assertError(t *testing.T, a answer, status int, code string) {
	t.Helper()
	if a.Status != status || a.Body["error"] != code {
		t.Errorf("got %d %s, want %d error %q", a.Status, a.Raw, status, code)
	}
	if _, ok := a.Body["error_description"].(string); !ok {
		t.Errorf("error_description missing: %s", a.Raw)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// recorder is an application handler that keeps what the portal POSTed.
type recorder struct {
	srv    *httptest.Server
	status int
	mu     sync.Mutex
	reqs   []recorded
}

type recorded struct {
	Query url.Values
	Form  url.Values
	Path  string
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	r := &recorder{status: http.StatusOK}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		form, _ := url.ParseQuery(string(body))
		r.mu.Lock()
		r.reqs = append(r.reqs, recorded{Query: req.URL.Query(), Form: form, Path: req.URL.Path})
		status := r.status
		r.mu.Unlock()
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"status":"success"}`))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) requests() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

// decoded is the bracket-decoded form of a recorded request.
func decoded(t *testing.T, form url.Values) map[string]any {
	t.Helper()
	m, err := bitrix.DecodeForm(form)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
