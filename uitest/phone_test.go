package uitest

import (
	"fmt"
	"testing"
	"time"

	"github.com/relay24/relay24/wazzup/wztest"
)

// At 360 px the list and the conversation are two screens, with a back
// button between them, and nothing overflows sideways.
func TestPhone360(t *testing.T) {
	e := newEnv(t)
	e.write(e.client("Анна Морозова"), "Здравствуйте! Когда доставка?")
	d := e.write(e.client("sweet_home_decor"), "Вы доставляете в Казань? Нужен ответ как можно скорее, спасибо!")
	tb := e.open(generalChat, 360, 740)
	tb.waitJS(`document.querySelectorAll(".dialog-row").length === 2`)
	if !tb.yes(`getComputedStyle(document.querySelector("#conversation")).display === "none"`) {
		t.Error("the conversation shows beside the list on a phone")
	}
	if !tb.yes(`document.documentElement.scrollWidth <= 360`) {
		t.Error("the list overflows 360 px")
	}
	tb.shot("phone-list")
	tb.click(rowSel(d.ID))
	tb.waitJS(`getComputedStyle(document.querySelector("#sidebar")).display === "none"`)
	tb.waitJS(`[...document.querySelectorAll(".msg-in .msg-text")].some(n => n.textContent.startsWith("Вы доставляете в Казань?"))`)
	if !tb.yes(`document.documentElement.scrollWidth <= 360`) {
		t.Error("the conversation overflows 360 px")
	}
	tb.shot("phone-conversation")
	tb.click("#back-btn")
	tb.waitJS(`getComputedStyle(document.querySelector("#sidebar")).display !== "none" && getComputedStyle(document.querySelector("#conversation")).display === "none"`)
}

// Scrolling up loads the older pages of a long conversation.
func TestScrollLoadsOlderMessages(t *testing.T) {
	e := newEnv(t)
	c := e.client("Светлана")
	start := time.Now().Add(-time.Hour)
	for i := 1; i <= 45; i++ {
		if _, err := e.World.Acc.ClientWrites(e.ctx, c.Channel.ChannelID, c.ChatType, c.ChatID,
			wztest.Incoming{Text: fmt.Sprintf("Сообщение %d", i), ContactName: c.Name, DateTime: start.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	d := e.dialogOf(c.ChatID, c.Channel)
	var page struct {
		Messages []struct{} `json:"messages"`
	}
	e.eventually("all 45 messages are filed", func() bool {
		e.api("GET", fmt.Sprintf("/api/v1/dialogs/%d/messages?limit=100", d.ID), e.Admin, nil, &page)
		return len(page.Messages) == 45
	})
	tb := e.open(generalChat, 1280, 800)
	tb.click(rowSel(d.ID))
	tb.waitJS(`[...document.querySelectorAll(".msg-text")].pop()?.textContent === "Сообщение 45"`)
	if n := tb.num(`document.querySelectorAll("#messages .msg").length`); n >= 45 {
		t.Fatalf("the first page has %d messages; the test needs paging", n)
	}
	tb.str(`(document.querySelector("#messages").scrollTop = 0, "")`)
	tb.waitJS(`document.querySelectorAll("#messages .msg").length === 45`)
	if got := tb.str(`document.querySelector("#messages .msg .msg-text").textContent`); got != "Сообщение 1" {
		t.Errorf("the oldest message is %q", got)
	}
}

// The sandbox imitates the portal: the left menu's «Общий чат» and a deal
// card's chat button open the real placement pages in frames.
func TestSandbox(t *testing.T) {
	e := newEnv(t)
	e.write(e.client("Анна Морозова"), "Здравствуйте! Когда доставка?")
	tb := e.open("/demo", 1440, 900)
	tb.waitJS(`(() => { const f = document.querySelector("#frame-general"); const d = f && f.contentDocument; return d && d.querySelector('#app[data-ready="true"]') && d.querySelectorAll(".dialog-row").length === 1 })()`)
	tb.shot("sandbox-general")
	tb.click(fmt.Sprintf(".menu-deal[data-deal='%d']", e.Cast.Deal.ID))
	tb.click(fmt.Sprintf(".chat-button[data-deal='%d']", e.Cast.Deal.ID))
	tb.waitJS(`(() => { const d = document.querySelector("#frame-deal").contentDocument; const n = d && d.querySelector("#client-name"); return n && n.textContent === "Анна Морозова" })()`)
	// The card link reaches the sandbox through the frame protocol.
	tb.str(`(document.querySelector("#frame-deal").contentDocument.querySelector("#client-name").click(), "")`)
	tb.waitJS(`!document.querySelector("#toast").hidden && document.querySelector("#toast").textContent.includes("/crm/contact/details/` + fmt.Sprint(e.Cast.Anna.ID) + `/")`)
	tb.shot("sandbox-deal-chat")
}

// The individual chat on a phone: the conversation first, the hamburger
// opens the contacts over the whole screen.
func TestPhoneIndividualChat(t *testing.T) {
	e := newEnv(t)
	e.write(e.client("Анна Морозова"), "Здравствуйте! Когда доставка?")
	tb := e.open(fmt.Sprintf("/demo/frame?placement=CRM_DEAL_DETAIL_TOOLBAR&id=%d", e.Cast.Deal.ID), 360, 740)
	tb.waitJS(`document.querySelector("#client-name").textContent === "Анна Морозова"`)
	tb.waitJS(`document.querySelectorAll(".msg-in").length === 1`)
	tb.shot("phone-individual-chat")
	tb.click("#hamburger")
	tb.waitJS(`getComputedStyle(document.querySelector("#sidebar")).visibility === "visible" && document.querySelector("#sidebar").getBoundingClientRect().width === 360`)
	tb.shot("phone-individual-contacts")
	if !tb.yes(`document.documentElement.scrollWidth <= 360`) {
		t.Error("the page overflows 360 px")
	}
}
