package uitest

import (
	"fmt"
	"testing"
	"time"
)

// requestsJS counts the page's GETs of the dialog list and of histories so
// far (the browser's resource timing records every fetch).
const requestsJS = `performance.getEntriesByType("resource").filter(function (r) {
	return r.initiatorType === "fetch" && /\/api\/v1\/dialogs(\?|\/\d+\/messages)/.test(r.name);
}).length`

// A live message moves its dialog's row to the top and appends to the open
// history from the event itself: after the page settled it asks for neither
// the list nor the history again.
func TestLiveMessageAppliedInPlace(t *testing.T) {
	e := newEnv(t)
	anna := e.write(e.client("Анна Морозова"), "Здравствуйте! Когда доставка?")
	sveta := e.write(e.client("Светлана"), "Есть ли синий диван?")

	tb := e.open(generalChat, 1280, 800)
	tb.waitJS(`document.querySelectorAll(".dialog-row").length === 2`)
	tb.waitJS(`document.getElementById("app").getAttribute("data-live") === "true"`)
	if got := tb.str(`document.querySelector(".dialog-row").getAttribute("data-dialog-id")`); got != fmt.Sprint(sveta.ID) {
		t.Fatalf("top row is dialog %s, want the newest %d", got, sveta.ID)
	}
	tb.click(rowSel(anna.ID))
	tb.waitJS(`Array.prototype.some.call(document.querySelectorAll("#messages .msg-text"), function (n) { return n.textContent === "Здравствуйте! Когда доставка?"; })`)
	time.Sleep(time.Second) // let the page settle: the debounced loads of the start are done
	before := tb.num(requestsJS)
	if before < 2 {
		t.Fatalf("the counter saw %d loads of the list and history, want at least the first of each", before)
	}

	if err := e.World.Write(e.ctx, e.client("Анна Морозова"), "А можно сегодня?"); err != nil {
		t.Fatal(err)
	}
	tb.waitJS(`document.querySelector(".dialog-row").getAttribute("data-dialog-id") === "` + fmt.Sprint(anna.ID) + `"`)
	tb.waitJS(`(function () { var m = document.querySelectorAll("#messages .msg-text"); return m.length && m[m.length - 1].textContent === "А можно сегодня?"; })()`)
	if got := tb.str(`document.querySelector(".dialog-row .row-preview-text").textContent`); got != "А можно сегодня?" {
		t.Errorf("the moved row's preview is %q", got)
	}
	if got := tb.str(`document.title`); got != "(2) Общий чат" {
		t.Errorf("title %q, want the two waiting dialogs counted", got)
	}
	// Whatever else the message sets off (the client's CRM card, the
	// timeline) arrives as events too; give a reload the time to show.
	time.Sleep(time.Second)
	if after := tb.num(requestsJS); after != before {
		t.Errorf("the page fetched the list or a history %d times after a live message, want none", after-before)
	}
	if n := tb.num(`document.querySelectorAll(".dialog-row").length`); n != 2 {
		t.Errorf("%d rows, want 2", n)
	}
}
