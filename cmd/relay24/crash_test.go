package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relay24/relay24/bitrix/b24test"
	"github.com/relay24/relay24/store/storetest"
	"github.com/relay24/relay24/wazzup/wztest"
)

// The real binary is killed with SIGKILL right after it acknowledged the last
// of a burst of webhooks; restarted, it files every message exactly once.
func TestKill9AfterLastAcknowledgedWebhook(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := filepath.Join(t.TempDir(), "relay24")
	build := exec.Command("go", "build", "-o", bin, ".")
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
	public := "http://" + addr

	oauth := b24test.NewOAuth(b24test.App{ClientID: "app.crash", ClientSecret: "crash-secret", RedirectURI: public + "/oauth/callback"})
	defer oauth.Close()
	portal := oauth.NewPortal(b24test.PortalOptions{})
	wz := wztest.NewServer()
	defer wz.Close()
	acc := wz.AddAccount("crashkey0000000000000000000000000")
	ch := acc.AddChannel("whatsapp", "79990000000", "WA")
	dbURL := storetest.URL(t)
	env := append(os.Environ(), "DATABASE_URL="+dbURL, "LISTEN_ADDR="+addr, "PUBLIC_URL="+public,
		"B24_CLIENT_ID=app.crash", "B24_CLIENT_SECRET=crash-secret", "B24_OAUTH_URL="+oauth.URL(), "B24_ALLOW_HTTP=1",
		"WAZZUP_API_URL="+wz.URL(), "SECRET_KEY="+strings.Repeat("cd", 32), "LOG_LEVEL=warn")

	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "serve")
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if res, err := http.Get(public + "/readyz"); err == nil {
				res.Body.Close()
				if res.StatusCode == 200 {
					return cmd
				}
			}
			if time.Now().After(deadline) {
				t.Fatal("relay24 did not become ready")
			}
		}
	}
	ctx := context.Background()
	cmd := start()
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	if r, err := portal.PostInstall(ctx, public+"/b24/install", 1); err != nil || r.Status != 200 {
		t.Fatalf("install: %v %d", err, r.Status)
	}
	portal.InstallFinish()
	// This test is about crashes, not the portal's limit: let the CRM work
	// finish quickly on both sides.
	portal.SetLimit(500, 200)
	setRate := func() {
		db, err := sql.Open("postgres", dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(`UPDATE portals SET rate_burst = 500, rate_per_second = 200`); err != nil {
			t.Fatal(err)
		}
	}
	setRate()
	page, err := portal.OpenPlacement(ctx, "LEFT_MENU", nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`relay24-session" content="([^"]+)"`).FindSubmatch(page.Body)
	if m == nil {
		t.Fatalf("no session: %s", page.Body)
	}
	req, _ := http.NewRequest("POST", public+"/api/v1/channels", strings.NewReader(`{"provider":"wazzup","api_key":"crashkey0000000000000000000000000"}`))
	req.Header.Set("Authorization", "Bearer "+string(m[1]))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("connect: %v %v", err, res)
	}
	res.Body.Close()

	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Go(func() {
			chat := "7999100" + fmt.Sprintf("%04d", i%20)
			if _, err := acc.ClientWrites(ctx, ch.ChannelID, "whatsapp", chat, wztest.Incoming{Text: "msg " + strconv.Itoa(i)}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	// Every webhook was acknowledged: kill at once, no shutdown.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("a webhook was not acknowledged: %v", err)
	}

	cmd = start()
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var total, distinct int
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		_ = db.QueryRow(`SELECT count(*), count(DISTINCT provider_message_id) FROM messages WHERE direction = 'in'`).Scan(&total, &distinct)
		if total >= n && len(portal.Timeline()) >= n {
			break
		}
	}
	if total != n || distinct != n {
		t.Fatalf("after the crash: %d messages, %d distinct, want %d", total, distinct, n)
	}
	seen := map[string]int{}
	for _, e := range portal.Timeline() {
		if i := strings.Index(e.Text, "msg "); i >= 0 {
			seen[strings.Fields(e.Text[i+4:])[0]]++
		}
	}
	if len(seen) != n {
		t.Fatalf("timeline covers %d messages, want %d", len(seen), n)
	}
	for k, c := range seen {
		if c != 1 {
			t.Fatalf("message %s on the timeline %d times", k, c)
		}
	}
}
