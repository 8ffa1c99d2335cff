package portal

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/relay24/relay24/bitrix"
	"github.com/relay24/relay24/problem"
)

// A posted language id is kept only when it looks like Bitrix24's (a few
// Latin letters), lower-cased; anything else is dropped ("" keeps what is
// stored).
func TestLangCode(t *testing.T) {
	for in, want := range map[string]string{
		"ru": "ru", "EN": "en", " de ": "de", "tc": "tc", "ua": "ua", "br": "br",
		"":               "",
		"r":              "",
		"ru-RU":          "",
		"ru_ru":          "",
		"русский":        "",
		"toolonglang":    "",
		"en\x00":         "",
		"<b>":            "",
		"12":             "",
		"abcdefgh":       "abcdefgh",
		"abcdefghi":      "",
		"ru'; drop --":   "",
		"\xff\xfe":       "",
		"e\u0301n":       "",
		"ＲＵ":             "",
		"la\t":           "la",
		"\u00a0ru\u00a0": "ru",
	} {
		if got := langCode(in); got != want {
			t.Errorf("langCode(%q) = %q, want %q", in, got, want)
		}
	}
}

// relay24 talks only to absolute https endpoints; plain http only when the
// operator allows it (tests, demo).
func TestCheckEndpoint(t *testing.T) {
	for _, c := range []struct {
		endpoint  string
		allowHTTP bool
		host      string // "" = refused
	}{
		{"https://acme.bitrix24.ru/rest/", false, "acme.bitrix24.ru"},
		{"https://acme.bitrix24.ru:8443/rest/", false, "acme.bitrix24.ru:8443"},
		{"http://acme.bitrix24.ru/rest/", false, ""},
		{"http://127.0.0.1:9000/rest/", true, "127.0.0.1:9000"},
		{"https://acme.bitrix24.ru/rest/", true, "acme.bitrix24.ru"},
		{"ftp://acme.bitrix24.ru/rest/", true, ""},
		{"javascript:alert(1)", true, ""},
		{"/rest/", true, ""},
		{"acme.bitrix24.ru/rest/", true, ""},
		{"https:///rest/", true, ""},
		{"", true, ""},
		{"https://acme.bitrix24.ru/rest/\x7f", false, ""},
	} {
		s := New(Options{AllowHTTP: c.allowHTTP})
		host, err := s.checkEndpoint(c.endpoint)
		if c.host == "" {
			if err == nil {
				t.Errorf("%q (http allowed %v): accepted with host %q", c.endpoint, c.allowHTTP, host)
			}
			continue
		}
		if err != nil || host != c.host {
			t.Errorf("%q (http allowed %v): %q, %v; want host %q", c.endpoint, c.allowHTTP, host, err, c.host)
		}
	}
}

func portalErr(code string, status int) error {
	return fmt.Errorf("calling: %w", &bitrix.Error{Code: code, Description: "d", Status: status, Method: "user.current"})
}

// A failure talking to the portal or its OAuth server becomes what the
// caller answers: credentials it rejected are 401 portal_auth_rejected, any
// other failure 502 portal_unavailable (worth a retry); a problem already
// classified stays as it is.
func TestClassifyRemote(t *testing.T) {
	classified := problem.New(problem.Forbidden, "not_admin", "only an administrator may install relay24")
	for _, c := range []struct {
		name   string
		err    error
		code   problem.Code
		reason string
	}{
		{"expired token", portalErr(bitrix.CodeExpiredToken, 401), problem.Unauthorized, "portal_auth_rejected"},
		{"invalid token", portalErr(bitrix.CodeInvalidToken, 401), problem.Unauthorized, "portal_auth_rejected"},
		{"invalid grant", portalErr(bitrix.CodeInvalidGrant, 400), problem.Unauthorized, "portal_auth_rejected"},
		{"invalid client", portalErr(bitrix.CodeInvalidClient, 401), problem.Unauthorized, "portal_auth_rejected"},
		{"invalid request", portalErr("invalid_request", 400), problem.Unauthorized, "portal_auth_rejected"},
		{"no auth found", portalErr(bitrix.CodeNoAuthFound, 401), problem.Unauthorized, "portal_auth_rejected"},
		{"portal deleted", portalErr(bitrix.CodePortalDeleted, 404), problem.Unauthorized, "portal_auth_rejected"},
		{"rate limited", portalErr(bitrix.CodeQueryLimitExceeded, 503), problem.Unavailable, "portal_unavailable"},
		{"server error", portalErr(bitrix.CodeInternalServerError, 500), problem.Unavailable, "portal_unavailable"},
		{"network", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, problem.Unavailable, "portal_unavailable"},
		{"cut short", io.ErrUnexpectedEOF, problem.Unavailable, "portal_unavailable"},
		{"already classified", fmt.Errorf("install: %w", classified), problem.Forbidden, "not_admin"},
	} {
		got := classifyRemote(c.err, "confirming the install")
		pe, ok := problem.As(got)
		if !ok || pe.Code != c.code || pe.Reason != c.reason {
			t.Errorf("%s: %v, want %s %s", c.name, got, c.code, c.reason)
			continue
		}
		if !errors.Is(got, c.err) && !errors.Is(c.err, got) {
			t.Errorf("%s: the cause is lost", c.name)
		}
		if pe != classified && !strings.HasPrefix(pe.Message, "confirming the install: ") {
			t.Errorf("%s: message %q does not say what failed", c.name, pe.Message)
		}
	}
}

// For the job queue, a job that the portal will refuse however often it is
// retried (the app revoked, a method or scope denied, relay24 no longer
// installed) ends at once; anything else is returned as it is, to be
// retried.
func TestJobError(t *testing.T) {
	for _, c := range []struct {
		name      string
		err       error
		permanent bool
	}{
		{"revoked: invalid grant", portalErr(bitrix.CodeInvalidGrant, 400), true},
		{"revoked: invalid token", portalErr(bitrix.CodeInvalidToken, 401), true},
		{"portal deleted", portalErr(bitrix.CodePortalDeleted, 404), true},
		{"payment required", portalErr(bitrix.CodePaymentRequired, 402), true},
		{"access denied", portalErr(bitrix.CodeAccessDenied, 403), true},
		{"insufficient scope", portalErr(bitrix.CodeInsufficientScope, 401), true},
		{"uninstalled", problem.New(problem.Conflict, "portal_uninstalled", "not installed"), true},
		{"expired token", portalErr(bitrix.CodeExpiredToken, 401), false},
		{"server error", portalErr(bitrix.CodeInternalServerError, 500), false},
		{"network", io.ErrUnexpectedEOF, false},
		{"unavailable", problem.New(problem.Unavailable, "portal_unavailable", "try again"), false},
		{"not found", problem.New(problem.NotFound, "deal_not_found", "gone"), false},
	} {
		got := JobError(c.err)
		if !errors.Is(got, c.err) {
			t.Errorf("%s: the cause is lost", c.name)
		}
		if wrapped := got != c.err; wrapped != c.permanent {
			t.Errorf("%s: marked permanent %v, want %v", c.name, wrapped, c.permanent)
		}
	}
}

// With nothing bound, what is missing is exactly CONTRACT §3's bindings;
// with everything bound, nothing.
func TestBindingsMissing(t *testing.T) {
	want := []string{"LEFT_MENU", "CRM_DEAL_DETAIL_TOOLBAR", "CRM_LEAD_DETAIL_TOOLBAR", "CRM_CONTACT_DETAIL_TOOLBAR",
		"ONCRMCONTACTADD", "ONCRMCONTACTUPDATE", "ONCRMCONTACTDELETE", "ONCRMDEALADD", "ONCRMDEALUPDATE", "ONCRMDEALDELETE",
		"ONCRMLEADADD", "ONCRMLEADUPDATE", "ONCRMLEADDELETE", "ONAPPUNINSTALL"}
	got := Bindings{}.Missing()
	a, b := slices.Clone(got), slices.Clone(want)
	slices.Sort(a)
	slices.Sort(b)
	if !slices.Equal(a, b) {
		t.Errorf("missing with nothing bound: %v, want %v", got, want)
	}
	full := Bindings{Placements: map[string]bool{}, Events: map[string]bool{}}
	for _, w := range want {
		if strings.HasPrefix(w, "ON") {
			full.Events[w] = true
		} else {
			full.Placements[w] = true
		}
	}
	if m := full.Missing(); len(m) != 0 {
		t.Errorf("missing with everything bound: %v", m)
	}
	delete(full.Events, "ONCRMDEALUPDATE")
	full.Placements["LEFT_MENU"] = false
	if m := full.Missing(); !slices.Equal(m, []string{"LEFT_MENU", "ONCRMDEALUPDATE"}) {
		t.Errorf("missing: %v, want LEFT_MENU and ONCRMDEALUPDATE", m)
	}
}

// The portal says "yes" as true, "Y" or 1; anything else is no.
func TestFlexBool(t *testing.T) {
	for in, want := range map[string]bool{
		`true`: true, `"Y"`: true, `"y"`: true, `"1"`: true, `1`: true, `"TRUE"`: true,
		`false`: false, `"N"`: false, `"0"`: false, `0`: false, `""`: false, `null`: false, `"yes"`: false,
	} {
		var v struct {
			B flexBool `json:"b"`
		}
		v.B = !flexBool(want) // prove it is set either way
		if err := json.Unmarshal([]byte(`{"b":`+in+`}`), &v); err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if bool(v.B) != want {
			t.Errorf("%s: %v, want %v", in, v.B, want)
		}
	}
}
