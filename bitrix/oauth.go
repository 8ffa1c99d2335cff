package bitrix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// OAuth talks to the Bitrix24 OAuth server (oauth.bitrix.info or its
// emulator) through golang.org/x/oauth2. The server documents GET requests
// with the grant in the query string, so a transport turns the library's
// form POST into that GET.
type OAuth struct {
	cfg  oauth2.Config
	http *http.Client
}

// NewOAuth configures the client for the OAuth server at baseURL.
func NewOAuth(baseURL, clientID, clientSecret string, hc *http.Client) *OAuth {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	getClient := *hc
	getClient.Transport = getTransport{base: base}
	return &OAuth{
		cfg: oauth2.Config{
			ClientID:     clientID,
			ClientSecret: clientSecret,
			Endpoint: oauth2.Endpoint{
				TokenURL:  strings.TrimRight(baseURL, "/") + "/oauth/token/",
				AuthStyle: oauth2.AuthStyleInParams, // the secret goes in the query, as documented
			},
		},
		http: &getClient,
	}
}

// Grant is what the OAuth server answers: tokens plus the portal's identity.
type Grant struct {
	AccessToken    string
	RefreshToken   string
	Expiry         time.Time
	MemberID       string
	ClientEndpoint string
	ServerEndpoint string
	Scope          string
	Status         string
	UserID         int64
}

// AuthorizeURL is where a browser starts the authorization-code flow on a
// portal; redirect_uri is not sent (the portal takes it from the app's settings).
func (o *OAuth) AuthorizeURL(portalBase, state string) string {
	q := url.Values{"client_id": {o.cfg.ClientID}, "state": {state}}
	return strings.TrimRight(portalBase, "/") + "/oauth/authorize/?" + q.Encode()
}

// Exchange redeems an authorization code.
func (o *OAuth) Exchange(ctx context.Context, code string) (*Grant, error) {
	tok, err := o.cfg.Exchange(o.ctx(ctx), code)
	if err != nil {
		return nil, oauthError(err)
	}
	return grantOf(tok)
}

// Refresh redeems a refresh token. The answer carries a new refresh token;
// the old one is dead from now on.
func (o *OAuth) Refresh(ctx context.Context, refreshToken string) (*Grant, error) {
	tok, err := o.cfg.TokenSource(o.ctx(ctx), &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		return nil, oauthError(err)
	}
	return grantOf(tok)
}

func (o *OAuth) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, o.http)
}

func grantOf(tok *oauth2.Token) (*Grant, error) {
	g := &Grant{
		AccessToken:    tok.AccessToken,
		RefreshToken:   tok.RefreshToken,
		Expiry:         tok.Expiry,
		MemberID:       extraString(tok, "member_id"),
		ClientEndpoint: extraString(tok, "client_endpoint"),
		ServerEndpoint: extraString(tok, "server_endpoint"),
		Scope:          extraString(tok, "scope"),
		Status:         extraString(tok, "status"),
	}
	if uid, err := strconv.ParseInt(extraString(tok, "user_id"), 10, 64); err == nil {
		g.UserID = uid
	}
	if g.AccessToken == "" || g.RefreshToken == "" || g.MemberID == "" || g.ClientEndpoint == "" {
		return nil, &Error{Code: "invalid_answer", Description: "token answer lacks access_token, refresh_token, member_id or client_endpoint", Status: 200, Method: "oauth/token"}
	}
	if g.Expiry.IsZero() {
		g.Expiry = time.Now().Add(time.Hour)
	}
	return g, nil
}

func extraString(tok *oauth2.Token, key string) string {
	switch v := tok.Extra(key).(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

func oauthError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		code := re.ErrorCode
		if code == "" {
			code = http.StatusText(re.Response.StatusCode)
		}
		return &Error{Code: code, Description: re.ErrorDescription, Status: re.Response.StatusCode, Method: "oauth/token"}
	}
	return &netError{method: "oauth/token", err: err}
}

// getTransport sends the token request as the documented GET with the form in
// the query string.
type getTransport struct{ base http.RoundTripper }

func (t getTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodPost || r.Body == nil {
		return t.base.RoundTrip(r)
	}
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	u := *r.URL
	u.RawQuery = string(body)
	g, err := http.NewRequestWithContext(r.Context(), http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	g.Header.Set("Accept", "application/json")
	g.Header.Set("User-Agent", "relay24")
	return t.base.RoundTrip(g)
}
