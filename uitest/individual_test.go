package uitest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The individual chat of a deal with two contacts: it opens collapsed on the
// dialog that waits; the hamburger lists both contacts and their dialogs;
// the client's name opens the CRM card; the arrow lists the client's
// channels, «Создать диалог» → a channel → «Перейти в диалог» opens a new
// dialog that joins the list; «Посмотреть все диалоги» shows every message
// of every channel in one thread.
func TestIndividualChat(t *testing.T) {
	e := newEnv(t)
	anna, boris := e.client("Анна Морозова"), e.client("Борис Орлов")
	annaSupport := anna
	annaSupport.Channel = e.WA2
	older := e.write(annaSupport, "Пишу в поддержку: где мой заказ?")
	b := e.write(boris, "Счёт получил, спасибо.")
	e.reply(b.ID, "Рады помочь!")
	initial := e.write(anna, "Здравствуйте! Когда доставка?")
	if initial.Contact == nil || initial.Contact.ID != int64(e.Cast.Anna.ID) || older.Contact == nil || older.Contact.ID != int64(e.Cast.Anna.ID) {
		t.Fatalf("Anna's dialogs are not hers: %+v %+v", initial, older)
	}

	tb := e.open(fmt.Sprintf("/demo/frame?placement=CRM_DEAL_DETAIL_TOOLBAR&id=%d", e.Cast.Deal.ID), 1280, 800)
	tb.waitJS(`document.querySelector("#client-name").textContent === "Анна Морозова"`)
	tb.waitJS(`[...document.querySelectorAll(".msg-in .msg-text")].some(n => n.textContent === "Здравствуйте! Когда доставка?")`)
	if got := tb.str(`document.querySelector("#conv-sub").textContent`); got != "WhatsApp отдела продаж79161234501" {
		t.Errorf("dialog subtitle %q", got)
	}
	if !tb.yes(`getComputedStyle(document.querySelector("#sidebar")).visibility === "hidden"`) {
		t.Error("the individual chat opened with the list shown")
	}
	if tb.title() != "(2) Индивидуальный чат" {
		t.Errorf("title %q", tb.title())
	}
	tb.shot("individual-chat")

	// The hamburger: both contacts with their dialogs.
	tb.click("#hamburger")
	tb.waitJS(`getComputedStyle(document.querySelector("#sidebar")).visibility === "visible"`)
	if n := tb.num(`document.querySelectorAll(".contact-group").length`); n != 2 {
		t.Fatalf("%d contacts in the menu", n)
	}
	annaGroup := fmt.Sprintf(".contact-group[data-contact-id='%d']", e.Cast.Anna.ID)
	borisGroup := fmt.Sprintf(".contact-group[data-contact-id='%d']", e.Cast.Boris.ID)
	if n := tb.num(`document.querySelectorAll("` + annaGroup + ` .dialog-row").length`); n != 2 {
		t.Errorf("Anna has %d dialogs in the menu", n)
	}
	tb.shot("individual-chat-contacts")
	tb.click(borisGroup + " " + rowSel(b.ID))
	tb.waitJS(`document.querySelector("#client-name").textContent === "Борис Орлов"`)
	tb.waitJS(`[...document.querySelectorAll(".msg-out .msg-text")].some(n => n.textContent === "Рады помочь!")`)
	tb.waitJS(`getComputedStyle(document.querySelector("#sidebar")).visibility === "hidden"`)
	if got := tb.str(`document.querySelector("#no-reply").getAttribute("data-state")`); got != "idle" {
		t.Errorf("an answered dialog's envelope is %s", got)
	}

	// The client's name opens the CRM card.
	tb.str(`(window.__opened = [], window.relay24Frame.openPath = p => { window.__opened.push(p); return true; }, "")`)
	tb.click("#client-name")
	if got := tb.str(`window.__opened.join(",")`); got != fmt.Sprintf("/crm/contact/details/%d/", e.Cast.Boris.ID) {
		t.Errorf("opened %q", got)
	}

	// Back to Anna, then her channels.
	tb.click("#hamburger")
	tb.click(annaGroup + " " + rowSel(initial.ID))
	tb.waitJS(`document.querySelector("#client-name").textContent === "Анна Морозова"`)
	tb.click("#channels-toggle")
	tb.waitJS(`document.querySelectorAll("#channels-menu .channel-item").length === 2`)
	if got := tb.str(`[...document.querySelectorAll("#channels-menu .channel-item .menu-item-name")].map(n => n.textContent).sort().join("|")`); got != "Support WhatsApp|WhatsApp отдела продаж" {
		t.Errorf("channels %q", got)
	}
	tb.shot("individual-chat-channels")

	// «Создать диалог» → a channel → «Перейти в диалог».
	tb.click("#create-dialog-btn")
	tb.waitJS(`document.querySelectorAll("#create-dialog .channel-choice").length === 4`)
	// Boris's number on his channel is Boris's: the chat says so, in
	// Russian, and opens nothing.
	tb.click(fmt.Sprintf("#create-dialog .channel-choice[data-channel-id='%d'] input", e.chans[boris.Channel.ChannelID]))
	tb.run(chromedp.SendKeys("#create-chat-id", boris.ChatID))
	tb.click("#go-to-dialog")
	tb.waitJS(`!document.querySelector("#create-error").hidden`)
	if got, want := tb.str(`document.querySelector("#create-error").textContent`), "Этот номер или аккаунт уже принадлежит другому клиенту — Борис Орлов."; !strings.HasPrefix(got, want) {
		t.Errorf("another client's number: %q, want it to start %q", got, want)
	}
	if !tb.yes(`!document.querySelector("#create-dialog").hidden && document.querySelector("#client-name").textContent === "Анна Морозова"`) {
		t.Error("another client's number opened a dialog")
	}
	tb.shot("individual-chat-create-dialog-taken")
	tb.str(`(document.querySelector("#create-chat-id").value = "", "")`)
	tb.click(fmt.Sprintf("#create-dialog .channel-choice[data-channel-id='%d'] input", e.chans[e.WA3.ChannelID]))
	tb.shot("individual-chat-create-dialog")
	tb.click("#go-to-dialog")
	tb.waitJS(`document.querySelector("#create-dialog").hidden`)
	tb.waitJS(`document.querySelector("#conv-sub .conv-channel").textContent === "Резервный WhatsApp"`)
	tb.waitJS(`document.querySelectorAll("` + annaGroup + ` .dialog-row").length === 3`)
	// Writing into the new dialog works.
	tb.click("#composer-input")
	tb.run(chromedpSend("Анна, пишу с резервного номера."))
	tb.waitJS(`[...document.querySelectorAll(".msg-out")].some(m => ["sent", "delivered", "read"].includes(m.getAttribute("data-status")))`)
	tb.shot("individual-chat-new-dialog")

	// «Посмотреть все диалоги».
	tb.click("#channels-toggle")
	tb.waitJS(`document.querySelectorAll("#channels-menu .channel-item").length === 3`)
	tb.click("#view-all-btn")
	tb.waitJS(`document.querySelectorAll("#messages .msg").length === 3`)
	texts := tb.str(`[...document.querySelectorAll("#messages .msg")].map(m => m.querySelector(".msg-channel span").textContent + ": " + m.querySelector(".msg-text").textContent).join("\n")`)
	want := "Support WhatsApp: Пишу в поддержку: где мой заказ?\n" +
		"WhatsApp отдела продаж: Здравствуйте! Когда доставка?\n" +
		"Резервный WhatsApp: Анна, пишу с резервного номера."
	if texts != want {
		t.Errorf("all dialogs:\n%s\nwant\n%s", texts, want)
	}
	// The composer stays, answering through the dialog the client wrote in
	// last; another of her dialogs can be chosen.
	tb.waitJS(`!document.querySelector("#composer").hidden && !document.querySelector("#reply-channel").hidden`)
	if got := tb.str(`document.querySelector("#reply-channel").textContent`); got != "WhatsApp отдела продаж" {
		t.Errorf("the thread answers through %q, want the channel of the client's last message", got)
	}
	tb.shot("individual-chat-all-dialogs")
	tb.click("#reply-channel")
	tb.waitJS(`document.querySelectorAll("#reply-menu .reply-choice").length === 3`)
	tb.click(fmt.Sprintf("#reply-menu .reply-choice[data-dialog-id='%d']", older.ID))
	tb.waitJS(`document.querySelector("#reply-menu").hidden && document.querySelector("#reply-channel .reply-channel-name").textContent === "Support WhatsApp"`)
	tb.click("#composer-input")
	tb.run(chromedpSend("Отвечаю в поддержку: заказ в пути."))
	tb.waitJS(`[...document.querySelectorAll("#messages .msg-out")].some(m => m.querySelector(".msg-text").textContent === "Отвечаю в поддержку: заказ в пути." && m.querySelector(".msg-channel span").textContent === "Support WhatsApp" && ["sent", "delivered", "read"].includes(m.getAttribute("data-status")))`)
	if n := tb.num(`document.querySelectorAll("#messages .msg").length`); n != 4 {
		t.Errorf("%d messages in the thread after the answer, want 4", n)
	}
	e.eventually("the gateway gets the answer on the chosen channel", func() bool {
		for _, s := range e.World.Acc.Sent() {
			if s.Request.Text == "Отвечаю в поддержку: заказ в пути." {
				if s.Request.ChannelID != e.WA2.ChannelID {
					t.Fatalf("the answer went out on channel %s, want %s", s.Request.ChannelID, e.WA2.ChannelID)
				}
				return true
			}
		}
		return false
	})
	tb.shot("individual-chat-all-dialogs-answer")
}
