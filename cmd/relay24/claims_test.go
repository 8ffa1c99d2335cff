package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/relay24/relay24/apptest"
	"github.com/relay24/relay24/bitrix/b24test"
	"github.com/relay24/relay24/migrations"
	"github.com/relay24/relay24/store/storetest"
)

// README, Configuration: DATABASE_URL defaults to the local development
// cluster of scripts/pg at this URL, and the logs are JSON on stderr at the
// level LOG_LEVEL names.
func TestClaimDefaultDatabaseURLAndJSONLogsAtLOG_LEVEL(t *testing.T) {
	const readmeDefault = "postgres://postgres@127.0.0.1:55432/relay24?sslmode=disable"
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // serve stops at the database; what it logged before is what is checked
	base := map[string]string{"B24_CLIENT_ID": "app.1", "B24_CLIENT_SECRET": "s", "SECRET_KEY": strings.Repeat("ab", 32),
		"LISTEN_ADDR": "127.0.0.1:0"}
	serve := func(level string) []map[string]any {
		t.Helper()
		env := map[string]string{"LOG_LEVEL": level}
		for k, v := range base {
			env[k] = v
		}
		var out, errOut bytes.Buffer
		_ = run(ctx, []string{"serve"}, func(k string) string { return env[k] }, &out, &errOut)
		var lines []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(errOut.String()), "\n") {
			if l == "" {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("LOG_LEVEL=%s: a log line is not JSON: %q", level, l)
			}
			lines = append(lines, m)
		}
		return lines
	}
	levels := func(lines []map[string]any) []string {
		var out []string
		for _, l := range lines {
			out = append(out, fmt.Sprint(l["level"]))
		}
		return out
	}

	lines := serve("") // the default: info
	var cfg map[string]any
	for _, l := range lines {
		if l["msg"] == "configuration" {
			cfg, _ = l["config"].(map[string]any)
		}
	}
	if cfg == nil {
		t.Fatalf("no configuration line at the default level: %v", lines)
	}
	if got := cfg["database_url"]; got != readmeDefault {
		t.Errorf("DATABASE_URL unset: serve uses %v, README says %s", got, readmeDefault)
	}
	if got := strings.Join(levels(lines), ","); got != "INFO,WARN" {
		t.Errorf("default level logged %s, want INFO,WARN (info is the default)", got)
	}
	for level, want := range map[string]string{"debug": "INFO,WARN", "warn": "WARN", "error": ""} {
		if got := strings.Join(levels(serve(level)), ","); got != want {
			t.Errorf("LOG_LEVEL=%s logged %q, want %q", level, got, want)
		}
	}
}

// README: `relay24 migrate` applies the schema and exits; run again it
// changes nothing and exits as well. ARCHITECTURE: migrations are applied
// under an advisory lock, so instances starting at once migrate exactly
// once, and a schema newer than the binary is refused.
func TestClaimMigrateAppliesTheSchemaAndExits(t *testing.T) {
	admin := storetest.ClusterURL(t)
	adb, err := sql.Open("postgres", admin)
	if err != nil {
		t.Fatal(err)
	}
	defer adb.Close()
	name := fmt.Sprintf("claims_migrate_%d", os.Getpid())
	_, _ = adb.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
	if _, err := adb.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = adb.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`) })
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	dbURL := u.String()
	env := map[string]string{"DATABASE_URL": dbURL, "B24_CLIENT_ID": "app.1", "B24_CLIENT_SECRET": "s",
		"SECRET_KEY": strings.Repeat("ab", 32), "LOG_LEVEL": "error"}
	files, err := fs.Glob(migrations.FS(), "*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migration files: %v %v", files, err)
	}
	// The newest version is the highest number, not the count: numbers are
	// taken per branch, so a gap may stand until the branches merge.
	latest := 0
	for _, f := range files {
		v, err := strconv.Atoi(strings.SplitN(f, "_", 2)[0])
		if err != nil {
			t.Fatalf("migration %s: no version number: %v", f, err)
		}
		latest = max(latest, v)
	}
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for round, instances := range []int{3, 1} {
		// Round 0: three instances migrate the empty database at once (the
		// advisory lock lets one apply each migration); round 1: again,
		// nothing to do. A live context: migrate must end by itself.
		done := make(chan error, instances)
		for range instances {
			go func() {
				var out, errOut bytes.Buffer
				err := run(context.Background(), []string{"migrate"}, func(k string) string { return env[k] }, &out, &errOut)
				if err != nil {
					err = fmt.Errorf("%w\n%s", err, errOut.String())
				}
				done <- err
			}()
		}
		for range instances {
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("migrate (round %d): %v", round, err)
				}
			case <-time.After(2 * time.Minute):
				t.Fatalf("migrate (round %d) did not exit", round)
			}
		}
		var version, rows int
		if err := db.QueryRow(`SELECT max(version_id), count(*) FILTER (WHERE version_id > 0) FROM goose_db_version`).Scan(&version, &rows); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if version != latest || rows != len(files) {
			t.Errorf("round %d: schema version %d with %d applied, want %d with %d (every migration once)", round, version, rows, latest, len(files))
		}
		for _, table := range []string{"portals", "jobs", "dialogs", "messages"} {
			var reg sql.NullString
			if err := db.QueryRow(`SELECT to_regclass($1)::text`, "public."+table).Scan(&reg); err != nil || !reg.Valid {
				t.Errorf("round %d: table %s missing (%v)", round, table, err)
			}
		}
	}
	// ARCHITECTURE: a schema newer than the binary knows is refused.
	if _, err := db.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES ($1, true)`, latest+1); err != nil {
		t.Fatal(err)
	}
	if err := migrations.Check(context.Background(), db); err == nil || !strings.Contains(err.Error(), "upgrade relay24") {
		t.Errorf("a schema newer than the binary: %v, want a refusal", err)
	}
}

// README, Configuration: "SIGTERM shuts down gracefully". The built binary,
// sent SIGTERM with a request in flight and a browser's event stream open,
// stops taking new connections, finishes the request (its answer is the
// normal one), ends the stream, and exits 0.
func TestClaimSIGTERMShutsDownGracefully(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := filepath.Join(t.TempDir(), "relay24")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("building: %v", err)
	}

	// A Wazzup stand-in that holds GET /v3/channels until the test lets it
	// go: relay24's POST /api/v1/channels is in flight meanwhile.
	arrived, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	wz := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "GET" && r.URL.Path == "/v3/channels":
			once.Do(func() { close(arrived) })
			<-release
			_, _ = io.WriteString(w, `[]`)
		case r.Method == "PATCH" && r.URL.Path == "/v3/webhooks":
			_, _ = io.WriteString(w, `{"ok":true}`)
		default:
			_, _ = io.WriteString(w, `[]`)
		}
	})}
	wzln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = wz.Serve(wzln) }()
	t.Cleanup(func() { _ = wz.Close() })

	addr := apptest.FreeAddr(t)
	b := apptest.NewBackends(t, addr, apptest.Options{NoTelegram: true,
		Env: map[string]string{"LOG_LEVEL": "info", "WAZZUP_API_URL": "http://" + wzln.Addr().String()}})
	portal := b.OAuth.NewPortal(b24test.PortalOptions{})
	t.Cleanup(portal.Close)

	cmd := exec.Command(bin, "serve")
	cmd.Env = b.Environ()
	var logs bytes.Buffer
	var logMu sync.Mutex
	cmd.Stdout, cmd.Stderr = io.Discard, writerFunc(func(p []byte) (int, error) { logMu.Lock(); defer logMu.Unlock(); return logs.Write(p) })
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			logMu.Lock()
			t.Logf("relay24's log:\n%s", logs.String())
			logMu.Unlock()
		}
	})
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if res, err := http.Get(b.URL + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("relay24 did not become ready")
		}
	}
	ctx := context.Background()
	if rep, err := portal.PostInstall(ctx, b.URL+"/b24/install", 1); err != nil || rep.Status != http.StatusOK {
		t.Fatalf("install: %v %d", err, rep.Status)
	}
	portal.InstallFinish()
	page, err := portal.OpenPlacement(ctx, "LEFT_MENU", nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`relay24-session" content="([^"]+)"`).FindSubmatch(page.Body)
	if m == nil {
		t.Fatalf("no session: %s", page.Body)
	}
	session := string(m[1])

	// A browser's event stream, open.
	res, err := http.Get(b.URL + "/api/v1/events?session=" + session)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("event stream: %v %v", err, res)
	}
	streamEnded := make(chan struct{})
	ready := make(chan struct{})
	go func() {
		defer close(streamEnded)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if sc.Text() == "event: ready" {
				close(ready)
			}
		}
	}()
	<-ready

	// A request in flight: connecting Wazzup waits on the held channel list.
	type answer struct {
		status int
		err    error
	}
	inflight := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest("POST", b.URL+"/api/v1/channels", strings.NewReader(`{"provider":"wazzup","api_key":"c8cf90444023482f909520d454368d27"}`))
		req.Header.Set("Authorization", "Bearer "+session)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			inflight <- answer{0, err}
			return
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		inflight <- answer{res.StatusCode, nil}
	}()
	select {
	case <-arrived:
	case a := <-inflight:
		t.Fatalf("the connect request ended before it reached Wazzup: %+v", a)
	case <-time.After(60 * time.Second):
		t.Fatal("the connect request never reached Wazzup")
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Shutting down: the listener closes, so new connections are refused.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("relay24 kept accepting connections after SIGTERM")
		}
	}
	close(release)
	select {
	case a := <-inflight:
		if a.err != nil || a.status != http.StatusCreated {
			t.Errorf("the request in flight at SIGTERM: %d %v, want its normal 201", a.status, a.err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the request in flight never got an answer")
	}
	select {
	case <-streamEnded:
	case <-time.After(60 * time.Second):
		t.Fatal("the event stream was not ended")
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("relay24 exited with %v after SIGTERM, want status 0", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("relay24 did not exit after SIGTERM")
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// README, "Two commands": scripts/pg honours RELAY24_PG_PORT and
// RELAY24_PG_DIR; it prints the URL only after checking that the server on
// the port is its own cluster, and when the port is taken by another server
// it stops and names a free port; its cluster runs with fsync,
// synchronous_commit and full_page_writes off; `scripts/pg stop` stops it.
func TestClaimScriptsPG(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "pg"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "pg")
	pg := func(port string, args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command("bash", append([]string{script}, args...)...)
		cmd.Env = append(os.Environ(), "RELAY24_PG_DIR="+dir, "RELAY24_PG_PORT="+port)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errOut.String(), code
	}
	hint := regexp.MustCompile(`RELAY24_PG_PORT=(\d+) scripts/demo`)
	refused := func(name, port, why string) {
		t.Helper()
		out, errOut, code := pg(port)
		if code == 0 || out != "" {
			t.Errorf("%s: exit %d, printed %q; want a refusal and no URL", name, code, out)
		}
		m := hint.FindStringSubmatch(errOut)
		if !strings.Contains(errOut, why) || m == nil || m[1] == port {
			t.Errorf("%s: does not say why (%q) or name a free port:\n%s", name, why, errOut)
		}
	}

	// The port of another PostgreSQL: the cluster the tests use.
	u, err := url.Parse(storetest.ClusterURL(t))
	if err != nil {
		t.Fatal(err)
	}
	refused("another PostgreSQL on the port", u.Port(), "a PostgreSQL server with its data in")

	// The port of something else.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, busy, _ := net.SplitHostPort(ln.Addr().String())
	refused("another server on the port", busy, "something already listens there")
	ln.Close()

	// A free port: its own cluster, started, its URL printed.
	_, free, _ := net.SplitHostPort(apptest.FreeAddr(t))
	t.Cleanup(func() { pg(free, "stop") })
	out, errOut, code := pg(free)
	want := "postgres://postgres@127.0.0.1:" + free + "/relay24?sslmode=disable"
	if code != 0 || strings.TrimSpace(out) != want {
		t.Fatalf("a free port: exit %d, printed %q, want %s\n%s", code, out, want, errOut)
	}
	db, err := sql.Open("postgres", want)
	if err != nil {
		t.Fatal(err)
	}
	for _, setting := range []string{"fsync", "synchronous_commit", "full_page_writes"} {
		var v string
		if err := db.QueryRow(`SHOW ` + setting).Scan(&v); err != nil {
			t.Fatal(err)
		}
		if v != "off" {
			t.Errorf("the development cluster runs with %s=%s, README says off", setting, v)
		}
	}
	db.Close()
	if _, errOut, code := pg(free, "stop"); code != 0 {
		t.Fatalf("scripts/pg stop: exit %d\n%s", code, errOut)
	}
	if _, _, code := pg(free, "status"); code == 0 {
		t.Error("the cluster still runs after scripts/pg stop")
	}
}

// README: `relay24 serve` is the default command: with no argument the
// binary serves, so it asks for what serving needs.
func TestClaimServeIsTheDefaultCommand(t *testing.T) {
	getenv := func(k string) string { return map[string]string{"DATABASE_URL": "postgres://nowhere/db"}[k] }
	var out, none, serve bytes.Buffer
	errNone := run(context.Background(), nil, getenv, &out, &none)
	errServe := run(context.Background(), []string{"serve"}, getenv, &out, &serve)
	if errNone == nil || none.String() != serve.String() || !strings.Contains(none.String(), "B24_CLIENT_ID") {
		t.Fatalf("no command: %v\n%s\nserve: %v\n%s", errNone, none.String(), errServe, serve.String())
	}
}
