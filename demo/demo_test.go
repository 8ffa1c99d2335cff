package demo_test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/relay24/relay24/apptest"
	"github.com/relay24/relay24/demo"
	"github.com/relay24/relay24/store/storetest"
)

// The demo installs itself into its emulated portal and a newcomer can log
// in through the printed link.
func TestDemoInstallsAndLogsIn(t *testing.T) {
	d := apptest.StartDemo(t, apptest.DemoOptions{})
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	res, err := c.Get(d.Login)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `name="relay24-session"`) || !strings.Contains(string(body), "Общий чат") {
		t.Fatalf("login ended with %d:\n%s", res.StatusCode, body)
	}

	// The sandbox: the banner names it, it shows the portal's menu, and its
	// frames carry real sessions that see the seeded dialogs.
	page := get(t, c, d.Sandbox)
	if !strings.Contains(page, "Общий чат") || !strings.Contains(page, "chat-button") {
		t.Fatalf("sandbox page:\n%s", page)
	}
	frame := get(t, c, d.Sandbox+"/frame?placement=LEFT_MENU")
	m := regexp.MustCompile(`<meta name="relay24-session" content="([^"]+)">`).FindStringSubmatch(frame)
	if m == nil {
		t.Fatalf("the sandbox frame carries no session:\n%s", frame)
	}
	var dialogs []struct {
		ID      int64  `json:"id"`
		ChatID  string `json:"chat_id"`
		Channel struct {
			Transport string `json:"transport"`
		} `json:"channel"`
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		req, _ := http.NewRequest("GET", d.Base+"/api/v1/dialogs", nil)
		req.Header.Set("Authorization", "Bearer "+m[1])
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Dialogs []struct {
				ID      int64  `json:"id"`
				ChatID  string `json:"chat_id"`
				Channel struct {
					Transport string `json:"transport"`
				} `json:"channel"`
			} `json:"dialogs"`
		}
		_ = json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if dialogs = body.Dialogs; len(dialogs) >= 6 {
			break
		}
	}
	if len(dialogs) < 6 {
		t.Fatalf("the demo seeded %d dialogs, want 6", len(dialogs))
	}
	// The WhatsApp Business client wrote 25 hours ago: the window is closed
	// and the channel's three templates are offered.
	var waba int64
	for _, dl := range dialogs {
		if dl.Channel.Transport == "wapi" {
			waba = dl.ID
		}
	}
	if waba == 0 {
		t.Fatalf("no WhatsApp Business dialog in %+v", dialogs)
	}
	var tl struct {
		WindowOpen bool  `json:"window_open"`
		Templates  []any `json:"templates"`
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v1/dialogs/%d/templates", d.Base, waba), nil)
		req.Header.Set("Authorization", "Bearer "+m[1])
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = json.NewDecoder(res.Body).Decode(&tl)
		res.Body.Close()
		if len(tl.Templates) == 3 {
			break
		}
	}
	if tl.WindowOpen || len(tl.Templates) != 3 {
		t.Fatalf("the demo's WhatsApp Business dialog: %+v", tl)
	}
	d.Stop()
}

func get(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	res, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", url, res.StatusCode, b)
	}
	return string(b)
}

// startDemo starts the demo on dbURL with its key kept in keyDir, the
// simulated clients off (they would add messages to the counts), and waits
// for its banner.
func startDemo(t *testing.T, dbURL, keyDir string) *apptest.Demo {
	t.Helper()
	return apptest.StartDemo(t, apptest.DemoOptions{DBURL: dbURL, DataDir: keyDir, Demo: demo.Options{SimulateEvery: -1}})
}

// world is what a person sees of the demo, counted in the database.
type world struct {
	Portals, Gateways, Channels, Dialogs, Messages, Contacts, Deals, Users, QuickReplies int
}

func countWorld(t *testing.T, db *sql.DB) world {
	t.Helper()
	var w world
	err := db.QueryRow(`SELECT (SELECT count(*) FROM portals), (SELECT count(*) FROM gateways), (SELECT count(*) FROM channels),
		(SELECT count(*) FROM dialogs), (SELECT count(*) FROM messages), (SELECT count(*) FROM contacts),
		(SELECT count(*) FROM deals), (SELECT count(*) FROM users), (SELECT count(*) FROM quick_replies)`).
		Scan(&w.Portals, &w.Gateways, &w.Channels, &w.Dialogs, &w.Messages, &w.Contacts, &w.Deals, &w.Users, &w.QuickReplies)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// waitSettled waits until the seeded world is filed: five dialogs with
// their clients resolved, no webhook, client or send job left to run, and no
// reply still pending.
func waitSettled(t *testing.T, db *sql.DB) {
	t.Helper()
	var dialogs, resolved, jobs, pending int
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		err := db.QueryRow(`SELECT (SELECT count(*) FROM dialogs), (SELECT count(*) FROM dialogs WHERE client_resolved),
			(SELECT count(*) FROM jobs WHERE kind IN ('inbound.wazzup', 'dialog.client', 'send.message') AND state IN ('ready', 'running')),
			(SELECT count(*) FROM messages WHERE status = 'pending')`).Scan(&dialogs, &resolved, &jobs, &pending)
		if err != nil {
			t.Fatal(err)
		}
		if dialogs >= 6 && resolved == dialogs && jobs == 0 && pending == 0 {
			return
		}
	}
	t.Fatalf("the demo did not settle: %d dialogs, %d resolved, %d jobs to run, %d replies pending", dialogs, resolved, jobs, pending)
}

// A restarted demo on the same database and key directory shows the same
// world: the same channels, dialogs, messages and clients, nothing twice;
// and a reply sent after the restart goes out and is written into the
// timeline of the deal relay24 created for that client in the first run
// (the rebuilt emulated portal has it again).
func TestDemoRestartShowsTheSameWorld(t *testing.T) {
	dbURL := storetest.URL(t)
	keyDir := t.TempDir()
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	first := startDemo(t, dbURL, keyDir)
	waitSettled(t, db)
	first.Stop()
	before := countWorld(t, db)
	if before.Dialogs != 6 || before.Channels != 3 || before.Messages != 7 || before.QuickReplies != 4 {
		t.Fatalf("the first run seeded %+v, want 3 channels, 6 dialogs, 7 messages, 4 quick replies", before)
	}

	second := startDemo(t, dbURL, keyDir)
	waitSettled(t, db)
	if after := countWorld(t, db); after != before {
		t.Fatalf("the restart changed the world:\nbefore %+v\nafter  %+v", before, after)
	}

	// Светлана was unknown to the CRM: the first run created her contact and
	// deal, so the reply's timeline comment needs the restored deal.
	var dialogID int64
	if err := db.QueryRow(`SELECT id FROM dialogs WHERE chat_id = '79035550123'`).Scan(&dialogID); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	frame := get(t, c, second.Base+"/demo/frame?placement=LEFT_MENU")
	m := regexp.MustCompile(`<meta name="relay24-session" content="([^"]+)">`).FindStringSubmatch(frame)
	if m == nil {
		t.Fatalf("the sandbox frame carries no session:\n%s", frame)
	}
	req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/v1/dialogs/%d/messages", second.Base, dialogID),
		strings.NewReader(`{"text":"Светлана, добрый день! Синий диван есть в наличии.","client_id":"after-restart-1"}`))
	req.Header.Set("Authorization", "Bearer "+m[1])
	req.Header.Set("Content-Type", "application/json")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var sent struct {
		Message struct {
			ID int64 `json:"id"`
		} `json:"message"`
	}
	err = json.NewDecoder(res.Body).Decode(&sent)
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted || err != nil || sent.Message.ID == 0 {
		t.Fatalf("reply after the restart: %d %v", res.StatusCode, err)
	}
	var status string
	var reason, jobErr sql.NullString
	var timeline sql.NullInt64
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err := db.QueryRow(`SELECT status, error, timeline_id FROM messages WHERE id = $1`, sent.Message.ID).Scan(&status, &reason, &timeline); err != nil {
			t.Fatal(err)
		}
		if status == "error" || (status != "pending" && timeline.Valid) {
			break
		}
	}
	_ = db.QueryRow(`SELECT last_error FROM jobs WHERE kind = 'timeline.message' AND last_error IS NOT NULL ORDER BY id DESC LIMIT 1`).Scan(&jobErr)
	if status == "error" || status == "pending" {
		t.Fatalf("the reply after the restart ended %q: %s", status, reason.String)
	}
	if !timeline.Valid {
		t.Fatalf("the reply after the restart reached no timeline (last timeline error: %s)", jobErr.String)
	}

	// The reply's echo names the client as the restarted Wazzup account
	// remembers her: still «Светлана», not her number. The echo is POSTed
	// before the statuses, so once "read" is in and no webhook waits to be
	// filed, the echo has been filed.
	var name string
	var waiting int
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err := db.QueryRow(`SELECT m.status, d.client_name,
			(SELECT count(*) FROM jobs WHERE kind = 'inbound.wazzup' AND state IN ('ready', 'running'))
			FROM messages m JOIN dialogs d ON d.id = m.dialog_id WHERE m.id = $1`, sent.Message.ID).Scan(&status, &name, &waiting); err != nil {
			t.Fatal(err)
		}
		if status == "read" && waiting == 0 {
			break
		}
	}
	if status != "read" || name != "Светлана" {
		t.Fatalf("after the reply's echo and statuses: status %q, the client is called %q", status, name)
	}
}

// The sandbox's robot: moving the featured deal to «В работе» runs
// relay24's robot placed on that stage, which sends its text to the deal's
// client through WhatsApp, once, and reports back.
func TestDemoRobotOnDealStage(t *testing.T) {
	dbURL := storetest.URL(t)
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d := startDemo(t, dbURL, t.TempDir())
	waitSettled(t, db)
	c := &http.Client{Timeout: 10 * time.Second}
	m := regexp.MustCompile(`class="menu-deal" data-deal="(\d+)"`).FindStringSubmatch(get(t, c, d.Sandbox))
	if m == nil {
		t.Fatal("the sandbox lists no deal")
	}
	res, err := c.PostForm(d.Base+"/demo/deals/"+m[1]+"/stage", url.Values{"stage": {demo.RobotStage}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"robots":[200]`) {
		t.Fatalf("moving the deal: %d %s", res.StatusCode, body)
	}
	var sent, reported int
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		err := db.QueryRow(`SELECT (SELECT count(*) FROM messages WHERE text = $1 AND status IN ('sent', 'delivered', 'read')),
			(SELECT count(*) FROM robot_runs WHERE status = 'sent' AND reported_at IS NOT NULL)`, demo.RobotText).Scan(&sent, &reported)
		if err != nil {
			t.Fatal(err)
		}
		if reported > 0 {
			break
		}
	}
	if sent != 1 || reported != 1 {
		t.Fatalf("the robot sent %d messages and reported %d times", sent, reported)
	}
	d.Stop()
}
