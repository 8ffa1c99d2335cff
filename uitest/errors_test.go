package uitest

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/relay24/relay24/wazzup/wztest"
)

// A reply the gateway refuses shows as an error with a retry button; the
// retry is a new send that goes through. A reply over the channel's limit is
// refused at once and says why.
func TestSendErrorAndRetry(t *testing.T) {
	e := newEnv(t)
	d := e.write(e.client("sweet_home_decor"), "Привет!")
	tb := e.open(generalChat, 1280, 800)
	tb.click(rowSel(d.ID))
	tb.waitJS(`document.querySelectorAll(".msg-in").length === 1`)

	e.World.Acc.SetFault(&wztest.Fault{Status: 400, Body: `{"error":"CHANNEL_BLOCKED","description":"Channel is blocked"}`, Path: "/v3/message"})
	tb.click("#composer-input")
	tb.run(chromedpSend("Здравствуйте!"))
	tb.waitJS(`(() => { const m = [...document.querySelectorAll(".msg-out")].pop(); return m && m.getAttribute("data-status") === "error" && m.querySelector(".retry-btn") })()`)
	if got := tb.str(`[...document.querySelectorAll(".msg-out")].pop().querySelector(".msg-error-text").textContent`); !strings.Contains(got, "CHANNEL_BLOCKED") && !strings.Contains(got, "blocked") {
		t.Errorf("error text %q", got)
	}
	if got := tb.str(`[...document.querySelectorAll(".msg-out")].pop().querySelector(".msg-error-text").textContent`); !strings.HasPrefix(got, "Сервис канала отказался отправить сообщение.") {
		t.Errorf("the refusal is not said in Russian: %q", got)
	}
	tb.shot("send-error")
	tb.run(chromedp.Click(`.msg-out[data-status="error"] .retry-btn`))
	tb.waitJS(`[...document.querySelectorAll(".msg-out")].some(m => ["sent", "delivered", "read"].includes(m.getAttribute("data-status")))`)
	if n := tb.num(`document.querySelectorAll(".msg-out .retry-btn").length`); n != 0 {
		t.Errorf("%d retry buttons left after the retry", n)
	}

	// Instagram takes at most 1000 characters: the POST is refused with 400.
	tb.str(`(document.querySelector("#composer-input").value = "я".repeat(1001), "")`)
	tb.click("#send-btn")
	tb.waitJS(`[...document.querySelectorAll(".msg-out")].pop().getAttribute("data-status") === "error"`)
	if got := tb.str(`[...document.querySelectorAll(".msg-out")].pop().querySelector(".msg-error-text").textContent`); got != "Сообщение слишком длинное" {
		t.Errorf("too long: %q", got)
	}
}
