package main

import (
	"context"
	"database/sql"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/relay24/relay24/bitrix/b24test"
	"github.com/relay24/relay24/store/storetest"
	"github.com/relay24/relay24/wazzup/wztest"
)

// rig runs the real relay24 binary against emulated Bitrix24 and Wazzup.
type rig struct {
	t      testing.TB
	bin    string
	public string
	dbURL  string
	env    []string
	oauth  *b24test.OAuth
	portal *b24test.Portal
	acc    *wztest.Account
	ch     wztest.Channel
}

func newRig(t testing.TB) *rig {
	t.Helper()
	r := &rig{t: t, bin: filepath.Join(t.TempDir(), "relay24")}
	build := exec.Command("go", "build", "-o", r.bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("building: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r.public = "http://" + addr
	r.oauth = b24test.NewOAuth(b24test.App{ClientID: "app.rig", ClientSecret: "rig-secret", RedirectURI: r.public + "/oauth/callback"})
	t.Cleanup(r.oauth.Close)
	r.portal = r.oauth.NewPortal(b24test.PortalOptions{})
	wz := wztest.NewServer()
	t.Cleanup(wz.Close)
	r.acc = wz.AddAccount("rigkey00000000000000000000000000")
	r.ch = r.acc.AddChannel("whatsapp", "79990000000", "WA")
	r.dbURL = storetest.URL(t)
	r.env = append(os.Environ(), "DATABASE_URL="+r.dbURL, "LISTEN_ADDR="+addr, "PUBLIC_URL="+r.public,
		"B24_CLIENT_ID=app.rig", "B24_CLIENT_SECRET=rig-secret", "B24_OAUTH_URL="+r.oauth.URL(), "B24_ALLOW_HTTP=1",
		"WAZZUP_API_URL="+wz.URL(), "SECRET_KEY="+strings.Repeat("cd", 32), "LOG_LEVEL=warn")
	return r
}

// start runs the binary and waits until it is ready.
func (r *rig) start() *exec.Cmd {
	r.t.Helper()
	cmd := exec.Command(r.bin, "serve")
	cmd.Env = r.env
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if res, err := http.Get(r.public + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return cmd
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatal("relay24 did not become ready")
		}
	}
}

// install installs relay24 into the portal, lets CRM work run fast on both
// sides, connects the Wazzup account and returns the admin's session.
func (r *rig) install(ctx context.Context) string {
	r.t.Helper()
	if rep, err := r.portal.PostInstall(ctx, r.public+"/b24/install", 1); err != nil || rep.Status != 200 {
		r.t.Fatalf("install: %v %d", err, rep.Status)
	}
	r.portal.InstallFinish()
	r.portal.SetLimit(500, 200)
	db, err := sql.Open("postgres", r.dbURL)
	if err != nil {
		r.t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE portals SET rate_burst = 500, rate_per_second = 200`); err != nil {
		r.t.Fatal(err)
	}
	page, err := r.portal.OpenPlacement(ctx, "LEFT_MENU", nil, 1)
	if err != nil {
		r.t.Fatal(err)
	}
	m := regexp.MustCompile(`relay24-session" content="([^"]+)"`).FindSubmatch(page.Body)
	if m == nil {
		r.t.Fatalf("no session: %s", page.Body)
	}
	session := string(m[1])
	req, _ := http.NewRequest("POST", r.public+"/api/v1/channels", strings.NewReader(`{"provider":"wazzup","api_key":"rigkey00000000000000000000000000"}`))
	req.Header.Set("Authorization", "Bearer "+session)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 201 {
		r.t.Fatalf("connect: %v %v", err, res)
	}
	res.Body.Close()
	return session
}
