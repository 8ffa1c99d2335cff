package main

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/relay24/relay24/apptest"
	"github.com/relay24/relay24/bitrix/b24test"
	"github.com/relay24/relay24/wazzup/wztest"
)

// rig runs the real relay24 binary against emulated Bitrix24 and Wazzup.
type rig struct {
	t      testing.TB
	bin    string
	public string
	dbURL  string
	env    []string
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
	b := apptest.NewBackends(t, apptest.FreeAddr(t), apptest.Options{Env: map[string]string{"LOG_LEVEL": "warn"}})
	r.public, r.dbURL, r.env = b.URL, b.DBURL, b.Environ()
	r.portal = b.OAuth.NewPortal(b24test.PortalOptions{})
	r.acc = b.WZ.AddAccount("rigkey00000000000000000000000000")
	r.ch = r.acc.AddChannel("whatsapp", "79990000000", "WA")
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
func (r *rig) install(ctx context.Context) string { return r.installLimited(ctx, true) }

// installLimited installs relay24 into the portal and connects the Wazzup
// account, returning the admin's session; with fast, the portal's rate
// limit is raised on both sides (else both keep Bitrix24's real one).
func (r *rig) installLimited(ctx context.Context, fast bool) string {
	r.t.Helper()
	if rep, err := r.portal.PostInstall(ctx, r.public+"/b24/install", 1); err != nil || rep.Status != 200 {
		r.t.Fatalf("install: %v %d", err, rep.Status)
	}
	r.portal.InstallFinish()
	if fast {
		r.portal.SetLimit(500, 200)
		db, err := sql.Open("postgres", r.dbURL)
		if err != nil {
			r.t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(`UPDATE portals SET rate_burst = 500, rate_per_second = 200`); err != nil {
			r.t.Fatal(err)
		}
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
