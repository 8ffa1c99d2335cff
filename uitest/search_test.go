package uitest

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/relay24/relay24/wazzup/wztest"
)

// The general chat's search box finds a client by a phone written with
// brackets and dashes, and a message by another form of its word
// («доставку» by «доставка», marked in the result); choosing the dialog
// opens it; choosing the message opens its dialog scrolled to the message,
// marked, though it is older than the first page of the history.
func TestSearchFindsClientAndMessage(t *testing.T) {
	e := newEnv(t)
	anna := e.write(e.client("Анна Морозова"), "Здравствуйте!")
	e.write(e.client("Борис Орлов"), "Добрый день")
	c := e.client("Светлана")
	start := time.Now().Add(-time.Hour)
	for i := 1; i <= 45; i++ {
		text := fmt.Sprintf("Сообщение %d", i)
		if i == 3 {
			text = "Оформите, пожалуйста, доставку на пятницу"
		}
		if _, err := e.World.Acc.ClientWrites(e.ctx, c.Channel.ChannelID, c.ChatType, c.ChatID,
			wztest.Incoming{Text: text, ContactName: c.Name, DateTime: start.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	d := e.dialogOf(c.ChatID, c.Channel)
	var page struct {
		Messages []struct {
			ID   int64  `json:"id"`
			Text string `json:"text"`
		} `json:"messages"`
	}
	e.eventually("all 45 messages are filed", func() bool {
		e.api("GET", fmt.Sprintf("/api/v1/dialogs/%d/messages?limit=100", d.ID), e.Admin, nil, &page)
		return len(page.Messages) == 45
	})
	found := page.Messages[2].ID

	tb := e.open(generalChat, 1280, 800)
	tb.waitJS(`document.querySelectorAll(".dialog-row").length === 3`)
	if got := tb.str(`document.querySelector("#search-input").placeholder`); got != "Поиск: имя, телефон, текст" {
		t.Errorf("the search box says %q", got)
	}

	// A phone in another spelling than the chat id 79161234501.
	tb.run(chromedp.SendKeys("#search-input", "+7 (916) 123-45-01"))
	tb.waitJS(fmt.Sprintf(`document.querySelectorAll("#search-results .search-dialog").length === 1 && document.querySelector("#search-results .search-dialog[data-dialog-id='%d']") !== null`, anna.ID))
	tb.click(fmt.Sprintf("#search-results .search-dialog[data-dialog-id='%d']", anna.ID))
	tb.waitJS(`document.querySelector("#client-name").textContent === "Анна Морозова"`)
	tb.waitJS(`[...document.querySelectorAll(".msg-text")].some(n => n.textContent === "Здравствуйте!")`)

	// Another form of the word.
	tb.click("#search-clear")
	tb.waitJS(`document.querySelector("#search-results") === null && document.querySelectorAll(".dialog-row").length === 3`)
	tb.run(chromedp.SendKeys("#search-input", "доставка"))
	sel := fmt.Sprintf(`#search-results .search-message[data-message-id='%d']`, found)
	tb.waitJS(fmt.Sprintf(`document.querySelector(%q) !== null`, sel))
	if got := tb.str(fmt.Sprintf(`document.querySelector(%q).querySelector(".search-mark").textContent`, sel)); got != "доставку" {
		t.Errorf("the result marks %q", got)
	}
	if n := tb.num(`document.querySelectorAll("#search-results .search-message").length`); n != 1 {
		t.Errorf("%d messages found, want 1", n)
	}
	tb.click(sel)
	tb.waitJS(fmt.Sprintf(`document.querySelector("#client-name").textContent === "Светлана" && document.querySelector(".msg.msg-found[data-message-id='%d']") !== null`, found))
	// Scrolled to it: the message is inside the visible part of the list.
	tb.waitJS(fmt.Sprintf(`(() => { const m = document.querySelector(".msg.msg-found[data-message-id='%d']").getBoundingClientRect();
		const box = document.querySelector("#messages").getBoundingClientRect();
		return m.top >= box.top && m.bottom <= box.bottom })()`, found))
	if n := tb.num(`document.querySelectorAll("#messages .msg-found").length`); n != 1 {
		t.Errorf("%d messages marked", n)
	}
	tb.shot("search")
}
