package uitest

import (
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// Quick replies: the admin adds one for the portal on the settings page; in
// the composer "/" and part of its title find it, Enter puts its text in
// place of the "/query" for editing, and the edited text reaches the
// gateway. A reply of one's own is added from the composer's list, and Esc
// closes the list.
func TestQuickReplies(t *testing.T) {
	e := newEnv(t)
	d := e.write(e.client("Анна Морозова"), "Пришлите реквизиты, пожалуйста")
	if s := e.api("POST", "/api/v1/quick-replies", e.Admin, map[string]string{"title": "Часы работы", "text": "Мы работаем с 9 до 18", "scope": "portal"}, nil); s != http.StatusCreated {
		t.Fatalf("creating a quick reply: %d", s)
	}

	tb := e.open(generalChat, 1280, 800)
	tb.openSettings()
	tb.scrollTo("#set-quick")
	tb.waitJS(`document.querySelectorAll("#qr-list .qr-row").length === 1`)
	details := "ООО «Ромашка», ИНН 7701234567"
	tb.run(chromedp.SendKeys("#qr-new-title", "Реквизиты компании"), chromedp.SendKeys("#qr-new-text", details))
	tb.click("#qr-new-save")
	tb.waitJS(`[...document.querySelectorAll("#qr-list .qr-title")].map(n => n.textContent).join("|") === "Реквизиты компании|Часы работы"`)
	tb.shot("quick-replies-settings")
	tb.click("#settings-back")
	tb.waitJS(`document.querySelector("#settings").hidden`)

	tb.click(rowSel(d.ID))
	tb.waitJS(`[...document.querySelectorAll(".msg-in .msg-text")].some(n => n.textContent === "Пришлите реквизиты, пожалуйста")`)
	tb.run(chromedp.SendKeys("#composer-input", "/"))
	tb.waitJS(`!document.querySelector("#quick-replies").hidden && document.querySelectorAll("#quick-replies .quick-item").length === 2`)
	tb.run(chromedp.SendKeys("#composer-input", "рекв"))
	tb.waitJS(`[...document.querySelectorAll("#quick-replies .quick-item .quick-title")].map(n => n.textContent).join("|") === "Реквизиты компании"`)
	// Filtering looks into the text too; the list follows every key.
	tb.run(chromedp.KeyEvent(kb.Backspace), chromedp.KeyEvent(kb.Backspace), chromedp.KeyEvent(kb.Backspace), chromedp.KeyEvent(kb.Backspace),
		chromedp.SendKeys("#composer-input", "18"))
	tb.waitJS(`[...document.querySelectorAll("#quick-replies .quick-title")].map(n => n.textContent).join("|") === "Часы работы"`)
	tb.run(chromedp.KeyEvent(kb.Escape))
	tb.waitJS(`document.querySelector("#quick-replies").hidden`)
	if got := tb.str(`document.querySelector("#composer-input").value`); got != "/18" {
		t.Errorf("Esc changed the composer to %q", got)
	}

	// Pick with the arrows and Enter: the text replaces "/query" and is
	// edited before it goes.
	tb.clearComposer()
	tb.run(chromedp.SendKeys("#composer-input", "/к"))
	tb.waitJS(`document.querySelectorAll("#quick-replies .quick-item").length === 1`)
	tb.run(chromedp.SendKeys("#composer-input", "о"))
	tb.waitJS(`document.querySelectorAll("#quick-replies .quick-item").length === 1 && document.querySelector("#quick-replies .quick-item .quick-title").textContent === "Реквизиты компании"`)
	tb.clearComposer()
	tb.run(chromedp.SendKeys("#composer-input", "/"))
	tb.waitJS(`document.querySelectorAll("#quick-replies .quick-item").length === 2`)
	tb.run(chromedp.KeyEvent(kb.ArrowDown))
	tb.waitJS(`document.querySelector("#quick-replies .quick-item.selected .quick-title").textContent === "Часы работы"`)
	tb.run(chromedp.KeyEvent(kb.ArrowDown))
	tb.waitJS(`document.querySelector("#quick-replies .quick-item.selected .quick-title").textContent === "Реквизиты компании"`)
	tb.run(chromedp.SendKeys("#composer-input", "Рек"))
	tb.waitJS(`document.querySelectorAll("#quick-replies .quick-item").length === 1 && document.querySelector("#quick-replies .quick-item.selected .quick-title").textContent === "Реквизиты компании"`)
	tb.shot("quick-replies")
	tb.run(chromedp.KeyEvent(kb.Enter))
	tb.waitJS(`document.querySelector("#quick-replies").hidden`)
	if got := tb.str(`document.querySelector("#composer-input").value`); got != details {
		t.Fatalf("the composer holds %q after the pick, want the reply's text", got)
	}
	if n := tb.num(`document.querySelectorAll(".msg-out").length`); n != 0 {
		t.Fatal("picking a quick reply sent it")
	}
	tb.run(chromedp.SendKeys("#composer-input", ", счёт пришлём сегодня"), chromedp.KeyEvent(kb.Enter))
	want := details + ", счёт пришлём сегодня"
	tb.waitJS(`[...document.querySelectorAll(".msg-out .msg-text")].some(n => n.textContent === ` + q(want) + `)`)
	e.eventually("the gateway gets the edited quick reply", func() bool {
		for _, s := range e.World.Acc.Sent() {
			if s.Request.Text == want {
				return true
			}
		}
		return false
	})

	// One's own: added from the list, found by "/", picked with a click.
	tb.run(chromedp.SendKeys("#composer-input", "/"))
	tb.waitJS(`!document.querySelector("#quick-replies").hidden`)
	tb.click("#quick-add")
	tb.waitJS(`document.querySelector("#quick-edit-title") !== null`)
	tb.run(chromedp.SendKeys("#quick-edit-title", "Спасибо"), chromedp.SendKeys("#quick-edit-text", "Спасибо за обращение!"))
	tb.click("#quick-edit-save")
	tb.waitJS(`document.querySelector("#create-dialog").hidden`)
	tb.clearComposer()
	tb.run(chromedp.SendKeys("#composer-input", "/спас"))
	tb.waitJS(`document.querySelector("#quick-replies .quick-item[data-scope='personal'] .quick-title") !== null`)
	tb.click("#quick-replies .quick-item[data-scope='personal']")
	tb.waitJS(`document.querySelector("#composer-input").value === "Спасибо за обращение!" && document.querySelector("#quick-replies").hidden`)
	var list struct {
		QuickReplies []struct{ Title, Scope string } `json:"quick_replies"`
	}
	e.api("GET", "/api/v1/quick-replies", e.Admin, nil, &list)
	if len(list.QuickReplies) != 3 || list.QuickReplies[2].Title != "Спасибо" || list.QuickReplies[2].Scope != "personal" {
		t.Errorf("stored quick replies: %+v", list.QuickReplies)
	}
}

// clearComposer empties the composer as select-all and delete would.
func (tb *tab) clearComposer() {
	tb.t.Helper()
	tb.yes(`(() => { const i = document.querySelector("#composer-input"); i.value = ""; i.dispatchEvent(new Event("input", {bubbles: true})); return true })()`)
}
