package uitest

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/relay24/relay24/bitrix/b24test"
	"github.com/relay24/relay24/wazzup/wztest"
)

// A WhatsApp Business client wrote 25 hours ago: the composer says the
// window is closed and offers no plain text (the API refuses one with 409
// window_closed); the salesperson picks an approved template, fills its
// fields, sees the preview and sends it; Wazzup gets that template with the
// values, once.
func TestWABATemplateWhenWindowClosed(t *testing.T) {
	e := newEnv(t)
	c := e.World.AddWABA()
	e.connectWazzup()
	e.eventually("the WhatsApp Business templates are fetched", func() bool {
		var n int
		_ = e.App.Store.DB().Get(&n, `SELECT count(*) FROM waba_templates WHERE portal_id = $1 AND status = 'approved'`, e.PortalID)
		return n == 3
	})
	if _, err := e.World.Acc.ClientWrites(e.ctx, c.Channel.ChannelID, c.ChatType, c.ChatID, wztest.Incoming{
		Text: "Отложите, пожалуйста, кресло «Скандинавия»", ContactName: c.Name, DateTime: time.Now().Add(-25 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	d := e.dialogOf(c.ChatID, c.Channel)
	if s := e.api("POST", "/api/v1/dialogs/"+strconv.FormatInt(d.ID, 10)+"/messages", e.Admin,
		map[string]string{"text": "Здравствуйте!", "client_id": "plain-late"}, nil); s != http.StatusConflict {
		t.Fatalf("a plain text to the closed window: %d, want 409", s)
	}

	tb := e.open(generalChat, 1280, 800)
	tb.click(rowSel(d.ID))
	tb.waitJS(`!document.querySelector("#window-note").hidden && !document.querySelector("#template-panel").hidden &&
		document.querySelectorAll("#template-panel .tpl-item").length === 3`)
	if got := tb.str(`document.querySelector("#window-note").textContent`); !strings.Contains(got, "Прошло больше 24 часов") || !strings.Contains(got, "только шаблоном") {
		t.Errorf("the closed window is said as %q", got)
	}
	if tb.yes(`document.querySelector("#composer-input").offsetParent !== null || document.querySelector("#send-btn").offsetParent !== null`) {
		t.Error("the plain composer is offered while the window is closed")
	}
	tb.click(`#template-panel .tpl-item[data-template-id="a1b2c3d4-0001-4e5f-8a9b-0c1d2e3f4a51"]`)
	tb.waitJS(`document.querySelectorAll("#template-panel .tpl-var").length === 2`)
	// An empty field is not sent.
	tb.click("#tpl-send")
	tb.waitJS(`!document.querySelector("#tpl-error").hidden`)
	tb.run(chromedp.SendKeys("#tpl-var-1", "Ольга"), chromedp.SendKeys("#tpl-var-2", "A-1025"))
	want := "Здравствуйте, Ольга! Ваш заказ № A-1025 готов к выдаче. Ждём вас в магазине «Уютный дом» с 10 до 20."
	tb.waitJS(`document.querySelector("#tpl-preview").textContent === ` + q(want))
	tb.shot("waba-window-closed")
	if n := len(e.World.Acc.Sent()); n != 0 {
		t.Fatalf("%d messages reached Wazzup before the template was sent", n)
	}
	tb.click("#tpl-send")
	tb.waitJS(`[...document.querySelectorAll(".msg-out .msg-text")].some(n => n.textContent === ` + q(want) + `)`)
	e.eventually("Wazzup gets the template with its values", func() bool {
		for _, s := range e.World.Acc.Sent() {
			if s.ChatID == c.ChatID && s.Request.TemplateID == "a1b2c3d4-0001-4e5f-8a9b-0c1d2e3f4a51" &&
				strings.Join(s.Request.TemplateValues, "|") == "Ольга|A-1025" && s.Request.Text == "" {
				return true
			}
		}
		return false
	})
	tb.waitJS(`[...document.querySelectorAll(".msg-out")].some(n => n.querySelector(".msg-text").textContent === ` + q(want) + ` && n.dataset.status !== "pending")`)
	tb.shot("waba-template-sent")
	if n := len(e.World.Acc.Sent()); n != 1 {
		t.Fatalf("Wazzup got %d sends, want the one template", n)
	}
	// The window stays closed: the template list is still what is offered.
	if !tb.yes(`!document.querySelector("#window-note").hidden && document.querySelector("#composer-input").offsetParent === null`) {
		t.Error("the composer reopened the plain text after a template")
	}

	// The client answers: the window opens, the composer is back, and the
	// templates stay one button away.
	if _, err := e.World.Acc.ClientWrites(e.ctx, c.Channel.ChannelID, c.ChatType, c.ChatID, wztest.Incoming{Text: "Спасибо, зайду завтра", ContactName: c.Name}); err != nil {
		t.Fatal(err)
	}
	tb.waitJS(`document.querySelector("#window-note").hidden && document.querySelector("#composer-input").offsetParent !== null &&
		document.querySelector("#template-panel").hidden && document.querySelector("#template-btn").offsetParent !== null`)
	tb.click("#template-btn")
	tb.waitJS(`!document.querySelector("#template-panel").hidden && document.querySelectorAll("#template-panel .tpl-item").length === 3`)
	tb.click("#template-close")
	tb.waitJS(`document.querySelector("#template-panel").hidden`)
}

// «Написать клиенту» on a WhatsApp Business channel: the new dialog has no
// client message, so its window is closed; the chat hands it to the
// template picker, and the first message goes out as a template.
func TestWriteFirstOnWABAIsATemplate(t *testing.T) {
	var lena b24test.Contact
	var deal b24test.Deal
	e := newEnvWith(t, func(p *b24test.Portal) {
		lena = p.AddContact(b24test.Contact{Name: "Елена", LastName: "Соколова", AssignedByID: 2,
			Phones: []b24test.Multi{{TypeID: "PHONE", ValueType: "MOBILE", Value: "+7 (916) 555-20-01"}}})
		deal = p.AddDeal(b24test.Deal{Title: "Диван для Елены", StageID: "NEW", AssignedByID: 2, ContactIDs: []int{lena.ID}})
	})
	e.World.AddWABA()
	e.connectWazzup()
	e.eventually("the WhatsApp Business templates are fetched", func() bool {
		var n int
		_ = e.App.Store.DB().Get(&n, `SELECT count(*) FROM waba_templates WHERE portal_id = $1 AND status = 'approved'`, e.PortalID)
		return n == 3
	})

	tb := e.open(fmt.Sprintf("/demo/frame?placement=CRM_DEAL_DETAIL_TOOLBAR&id=%d", deal.ID), 1280, 800)
	tb.waitJS(`document.querySelector("#app").getAttribute("data-ready") === "true"`)
	tb.waitJS(`!document.querySelector("#write-first").hidden && !!document.querySelector("#write-first-btn")`)
	tb.click("#write-first-btn")
	tb.click(fmt.Sprintf("#write-channel-%d", e.chans[e.World.WABA.ChannelID]))
	tb.waitJS(`!document.querySelector("#write-go").disabled`)
	tb.click("#write-go")
	tb.waitJS(`!document.querySelector("#window-note").hidden && !document.querySelector("#template-panel").hidden &&
		document.querySelectorAll("#template-panel .tpl-item").length === 3 && document.querySelector("#composer-input").offsetParent === null`)
	if got := tb.str(`document.querySelector("#window-note").textContent`); !strings.Contains(got, "только шаблоном") {
		t.Errorf("the new WABA dialog's composer says %q", got)
	}
	tb.click(`#template-panel .tpl-item[data-template-id="a1b2c3d4-0002-4e5f-8a9b-0c1d2e3f4a52"]`)
	tb.run(chromedp.SendKeys("#tpl-var-1", "Елена"))
	want := "Здравствуйте, Елена! Это Мария из «Уютного дома». Вы спрашивали нас о товаре — удобно продолжить разговор здесь?"
	tb.waitJS(`document.querySelector("#tpl-preview").textContent === ` + q(want))
	tb.click("#tpl-send")
	tb.waitJS(`[...document.querySelectorAll(".msg-out")].some(n => n.querySelector(".msg-text").textContent === ` + q(want) + ` && n.dataset.status !== "pending")`)
	e.eventually("Wazzup gets the first message as a template", func() bool {
		for _, s := range e.World.Acc.Sent() {
			if s.Request.ChannelID == e.World.WABA.ChannelID && s.ChatID == "79165552001" &&
				s.Request.TemplateID == "a1b2c3d4-0002-4e5f-8a9b-0c1d2e3f4a52" && strings.Join(s.Request.TemplateValues, "|") == "Елена" {
				return true
			}
		}
		return false
	})
	tb.shot("waba-write-first-template")
	for _, s := range e.World.Acc.Sent() {
		if s.Request.TemplateID == "" {
			t.Errorf("a plain message left: %+v", s.Request)
		}
	}
}

// An Instagram client silent for 8 days: the composer says the 7-day window
// is closed, with no plain text and no templates to offer.
func TestInstagramWindowClosed(t *testing.T) {
	e := newEnv(t)
	if _, err := e.World.Acc.ClientWrites(e.ctx, e.World.IG.ChannelID, "instagram", "late.buyer", wztest.Incoming{
		Text: "Есть ли доставка в Казань?", ContactName: "late.buyer", DateTime: time.Now().Add(-8 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	d := e.dialogOf("late.buyer", e.World.IG)
	tb := e.open(generalChat, 1280, 800)
	tb.click(rowSel(d.ID))
	tb.waitJS(`!document.querySelector("#window-note").hidden && document.querySelector("#composer-input").offsetParent === null`)
	if got := tb.str(`document.querySelector("#window-note").textContent`); !strings.Contains(got, "7 дней") {
		t.Errorf("the closed Instagram window is said as %q", got)
	}
	if !tb.yes(`document.querySelector("#template-panel").hidden && document.querySelector("#template-btn").hidden`) {
		t.Error("templates offered on Instagram")
	}
	tb.shot("instagram-window-closed")
}
