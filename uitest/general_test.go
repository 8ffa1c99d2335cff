package uitest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/relay24/relay24/wazzup/wztest"
)

const generalChat = "/demo/frame?placement=LEFT_MENU"

// rowSel is the list row of a dialog.
func rowSel(id int64) string { return fmt.Sprintf(".dialog-row[data-dialog-id='%d']", id) }

// A client writes while the general chat is open: the dialog arrives at the
// top with its red envelope and the title counts it; an answer typed with
// Enter shows at once as pending, then goes through to read; Shift+Enter is
// a new line.
func TestGeneralChatLiveMessageAndReply(t *testing.T) {
	e := newEnv(t)
	anna := e.write(e.client("Анна Морозова"), "Здравствуйте! Когда доставка?")
	sveta := e.write(e.client("Светлана"), "Есть ли синий диван?")

	tb := e.open(generalChat, 1280, 800)
	tb.waitJS(`document.querySelectorAll(".dialog-row").length === 2`)
	tb.waitJS(`document.title === "(2) Общий чат"`)
	if got := tb.str(`document.querySelector(".dialog-row").getAttribute("data-dialog-id")`); got != fmt.Sprint(sveta.ID) {
		t.Fatalf("top row is dialog %s, want the newest waiting one %d", got, sveta.ID)
	}
	// The page fits the window: no scrollbars of the whole page.
	if !tb.yes(`document.documentElement.scrollHeight <= innerHeight && document.documentElement.scrollWidth <= innerWidth`) {
		t.Error("the page scrolls as a whole at 1280×800")
	}
	if !tb.yes(`document.querySelector("` + rowSel(anna.ID) + ` .row-wait .envelope-waiting") !== null`) {
		t.Error("a waiting dialog has no red envelope")
	}
	if got := tb.str(`document.querySelector("` + rowSel(anna.ID) + ` .row-preview-text").textContent`); got != "Здравствуйте! Когда доставка?" {
		t.Errorf("preview %q", got)
	}
	if got := tb.str(`document.querySelector("` + rowSel(anna.ID) + ` .row-channel").textContent`); got != "WhatsApp отдела продаж" {
		t.Errorf("channel %q", got)
	}
	tb.shot("general-chat")

	// A new client writes: the dialog jumps to the top, live.
	ig := e.client("sweet_home_decor")
	if err := e.World.Write(e.ctx, ig, "Вы доставляете в Казань?"); err != nil {
		t.Fatal(err)
	}
	tb.waitJS(`document.querySelectorAll(".dialog-row").length === 3`)
	tb.waitJS(`document.title === "(3) Общий чат"`)
	tb.waitJS(`document.querySelector(".dialog-row .row-name").textContent === "sweet_home_decor"`)
	if !tb.yes(`document.querySelector(".dialog-row .tr-instagram") !== null`) {
		t.Error("the Instagram dialog has no Instagram icon")
	}
	tb.shot("general-chat-live")

	// Answer it. The gateway holds the send until the page has shown the
	// message pending, so pending is seen first on any machine.
	hold := make(chan struct{})
	e.World.Acc.SetFault(&wztest.Fault{Hold: hold, Path: "/v3/message"})
	tb.click(".dialog-row:first-child")
	tb.waitJS(`[...document.querySelectorAll(".msg-in .msg-text")].some(n => n.textContent === "Вы доставляете в Казань?")`)
	if !tb.yes(`document.querySelector("#no-reply").getAttribute("data-state") === "waiting"`) {
		t.Error("the envelope is not red for a waiting dialog")
	}
	tb.run(chromedp.SendKeys("#composer-input", "Да, доставляем!"),
		chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierShift)),
		chromedp.SendKeys("#composer-input", "Срок — 3 дня."),
		chromedp.KeyEvent(kb.Enter))
	tb.waitJS(`(() => { const m = [...document.querySelectorAll(".msg-out")].pop(); return m && m.getAttribute("data-status") === "pending" })()`)
	if got := tb.str(`[...document.querySelectorAll(".msg-out .msg-text")].pop().textContent`); got != "Да, доставляем!\nСрок — 3 дня." {
		t.Errorf("sent text %q", got)
	}
	if got := tb.str(`document.querySelector("#composer-input").value`); got != "" {
		t.Errorf("the composer kept %q", got)
	}
	tb.shot("general-chat-pending")
	close(hold)
	// The ticks follow the gateway's statuses live, up to the last one it
	// reported: the emulator reports sent, delivered and read, so the reply
	// ends "read" on the server and on the page.
	igID := int64(tb.num(`+document.querySelector(".dialog-row.active").getAttribute("data-dialog-id")`))
	e.eventually("the server records the reply as read", func() bool { return e.lastOutStatus(igID) == "read" })
	tb.waitJS(`[...document.querySelectorAll(".msg-out")].pop().getAttribute("data-status") === "read"`)
	tb.waitJS(`document.title === "(2) Общий чат"`)
	tb.waitJS(`document.querySelector("#no-reply").getAttribute("data-state") === "idle"`)
	if n := tb.num(`document.querySelectorAll(".msg-out").length`); n != 1 {
		t.Errorf("%d outgoing messages shown, want 1", n)
	}
	tb.shot("general-chat-answered")
	sent := 0
	for _, s := range e.World.Acc.Sent() {
		if s.Request.Text == "Да, доставляем!\nСрок — 3 дня." {
			sent++
		}
	}
	if sent != 1 {
		t.Errorf("the gateway got the reply %d times", sent)
	}
}

// "No reply needed": red while the client waits; viewing does not end the
// wait; pressing it does, and the envelope turns grey with a green arrow.
func TestNoReplyNeeded(t *testing.T) {
	e := newEnv(t)
	d := e.write(e.client("Борис Орлов"), "Спасибо, всё получил.")
	tb := e.open(generalChat, 1280, 800)
	tb.click(rowSel(d.ID))
	tb.waitJS(`document.querySelector("#no-reply").getAttribute("data-state") === "waiting"`)
	tb.waitJS(`[...document.querySelectorAll(".msg-in .msg-text")].some(n => n.textContent === "Спасибо, всё получил.")`)
	// Viewing never ends a wait.
	for _, x := range e.dialogs() {
		if x.ID == d.ID && !x.Unanswered {
			t.Fatal("opening the dialog ended the wait")
		}
	}
	if tb.title() != "(1) Общий чат" {
		t.Errorf("title %q", tb.title())
	}
	tb.shot("no-reply-waiting")
	tb.click("#no-reply")
	tb.waitJS(`document.querySelector("#no-reply").getAttribute("data-state") === "idle"`)
	tb.waitJS(`document.querySelector("` + rowSel(d.ID) + `").getAttribute("data-unanswered") === "false"`)
	tb.waitJS(`document.title === "Общий чат"`)
	if !tb.yes(`document.querySelector("#no-reply .envelope-idle") !== null && document.querySelector("` + rowSel(d.ID) + ` .row-wait") === null`) {
		t.Error("the envelope did not turn grey")
	}
	for _, x := range e.dialogs() {
		if x.ID == d.ID && x.Unanswered {
			t.Fatal("the dialog still waits on the server")
		}
	}
	tb.shot("no-reply-done")
}

// Client text is text: markup in a message is shown literally, runs nothing.
func TestClientTextIsText(t *testing.T) {
	e := newEnv(t)
	evil := `<img src=x onerror=alert(1)>`
	d := e.write(e.client("Светлана"), evil)
	tb := e.open(generalChat, 1280, 800)
	tb.click(rowSel(d.ID))
	tb.waitJS(`[...document.querySelectorAll(".msg-in .msg-text")].some(n => n.textContent === ` + q(evil) + `)`)
	if got := tb.str(`document.querySelector("` + rowSel(d.ID) + ` .row-preview-text").textContent`); got != evil {
		t.Errorf("preview %q", got)
	}
	if n := tb.num(`document.querySelectorAll("#messages img, #dialog-list img").length`); n != 0 {
		t.Errorf("%d img elements made from client text", n)
	}
	tb.shot("client-text-is-text")
}

// Preferences apply at once and are saved; the send key follows them.
func TestPreferencesAndCtrlEnter(t *testing.T) {
	e := newEnv(t)
	d := e.write(e.client("Анна Морозова"), "Добрый день!")
	tb := e.open(generalChat, 1280, 800)
	tb.click(rowSel(d.ID))
	tb.waitJS(`document.querySelector("` + rowSel(d.ID) + ` .row-preview") !== null`)
	tb.click(".sidebar .prefs-toggle")
	tb.waitJS(`!document.querySelector("#prefs-panel").hidden`)
	tb.shot("preferences")
	tb.click("#pref-show_preview")
	tb.waitJS(`document.querySelector("` + rowSel(d.ID) + ` .row-preview") === null`)
	tb.click("#pref-send-ctrl_enter")
	tb.waitJS(`document.querySelector("#app").getAttribute("data-send-key") === "ctrl_enter"`)
	var prefs struct {
		SendKey     string `json:"send_key"`
		ShowPreview bool   `json:"show_preview"`
	}
	e.eventually("the preferences are saved", func() bool {
		e.api("GET", "/api/v1/me/preferences", e.Admin, nil, &prefs)
		return prefs.SendKey == "ctrl_enter" && !prefs.ShowPreview
	})
	tb.click("#pref-show_preview") // back on
	tb.waitJS(`document.querySelector("` + rowSel(d.ID) + ` .row-preview") !== null`)
	tb.run(chromedp.Click("#composer-input"))
	// Enter is a new line now; Ctrl+Enter sends.
	tb.run(chromedp.SendKeys("#composer-input", "Первая строка"), chromedp.KeyEvent(kb.Enter), chromedp.SendKeys("#composer-input", "вторая"))
	if got := tb.str(`document.querySelector("#composer-input").value`); got != "Первая строка\nвторая" {
		t.Fatalf("composer %q", got)
	}
	if n := tb.num(`document.querySelectorAll(".msg-out").length`); n != 0 {
		t.Fatal("Enter sent the message under ctrl_enter")
	}
	tb.run(chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	tb.waitJS(`[...document.querySelectorAll(".msg-out .msg-text")].some(n => n.textContent === "Первая строка\nвторая")`)
	if !strings.Contains(tb.str(`document.querySelector("#composer-hint").textContent`), "Ctrl+Enter") {
		t.Error("the hint does not name Ctrl+Enter")
	}
}

// An English-speaking user gets the English page.
func TestEnglish(t *testing.T) {
	e := newEnv(t)
	e.write(e.client("Светлана"), "Hello")
	tb := e.open(generalChat+"&user=3", 1280, 800)
	if lang := tb.str(`document.querySelector('meta[name="relay24-lang"]').content`); lang != "en" {
		t.Fatalf("lang %q", lang)
	}
	tb.waitJS(`document.title === "(1) General chat"`)
	tb.waitJS(`document.querySelector("#composer-input").placeholder === "Type a message"`)
	if got := tb.str(`document.querySelector("#no-reply").title`); got != "No reply needed" {
		t.Errorf("envelope title %q", got)
	}
	tb.shot("general-chat-en")
}
