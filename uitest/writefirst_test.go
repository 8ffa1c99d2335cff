package uitest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/relay24/relay24/bitrix/b24test"
	"github.com/relay24/relay24/wazzup/wztest"
)

// A deal whose client has never written: its individual chat shows
// «Написать клиенту» in the empty chat; the user picks the channel and one
// of the contact's two phones from the CRM (a channel none of them fits
// says so), «Написать» opens the new dialog, and the first message goes out
// from the ordinary composer, reaches the Wazzup emulator on that channel
// and number, and shows in the chat as sent.
func TestWriteFirstFromCard(t *testing.T) {
	var vera, gleb b24test.Contact
	var deal b24test.Deal
	e := newEnvWith(t, func(p *b24test.Portal) {
		vera = p.AddContact(b24test.Contact{Name: "Вера", LastName: "Кузнецова", AssignedByID: 2,
			Phones: []b24test.Multi{{TypeID: "PHONE", ValueType: "WORK", Value: "+7 (916) 555-10-01"},
				{TypeID: "PHONE", ValueType: "MOBILE", Value: "8 916 555-10-02"}}})
		gleb = p.AddContact(b24test.Contact{Name: "Глеб", LastName: "Кузнецов", AssignedByID: 2,
			Emails: []b24test.Multi{{TypeID: "EMAIL", ValueType: "WORK", Value: "gleb@example.com"}}})
		deal = p.AddDeal(b24test.Deal{Title: "Кухня для Веры", StageID: "NEW", AssignedByID: 2, ContactIDs: []int{vera.ID, gleb.ID}})
	})
	tb := e.open(fmt.Sprintf("/demo/frame?placement=CRM_DEAL_DETAIL_TOOLBAR&id=%d", deal.ID), 1280, 800)
	tb.waitJS(`document.querySelector("#app").getAttribute("data-ready") === "true"`)
	tb.waitJS(`!document.querySelector("#write-first").hidden && !!document.querySelector("#write-first-btn")`)
	if !tb.yes(`document.querySelector("#conv-empty").hidden`) {
		t.Error("the empty chat says there is no dialog twice")
	}
	if got := tb.str(`document.querySelector("#write-first-btn").textContent`); got != "Написать клиенту" {
		t.Errorf("the action reads %q", got)
	}
	if !tb.yes(`document.querySelector("#write-first-btn").getBoundingClientRect().width > 0`) {
		t.Error("«Написать клиенту» is not visible in the empty chat")
	}
	tb.shot("write-first-empty-card")
	tb.click("#write-first-btn")
	tb.waitJS(`document.querySelectorAll("#write-first .channel-choice[data-channel-id]").length === 4`)

	// Instagram: the contact has no account there, and the chat says so.
	ig := e.chans[e.World.IG.ChannelID]
	tb.click(fmt.Sprintf("#write-channel-%d", ig))
	tb.waitJS(`!!document.querySelector("#write-no-handle")`)
	if got := tb.str(`document.querySelector("#write-no-handle").textContent`); !strings.HasPrefix(got, "В карточке контакта нет аккаунта Instagram") {
		t.Errorf("no Instagram account: %q", got)
	}
	if !tb.yes(`document.querySelector("#write-go").disabled`) {
		t.Error("«Написать» is enabled without a handle")
	}

	// Two contacts on the card: the open one is chosen; the other has no
	// phone for WhatsApp, and the chat says so.
	if !tb.yes(fmt.Sprintf(`document.querySelector("#write-contact-%d").checked`, vera.ID)) {
		t.Error("the open contact is not the one chosen")
	}
	wa := e.chans[e.WA3.ChannelID]
	tb.click(fmt.Sprintf("#write-contact-%d", gleb.ID))
	tb.click(fmt.Sprintf("#write-channel-%d", wa))
	tb.waitJS(`!!document.querySelector("#write-no-handle")`)
	if got := tb.str(`document.querySelector("#write-no-handle").textContent`); !strings.HasPrefix(got, "В карточке контакта нет номера телефона") {
		t.Errorf("no phone: %q", got)
	}
	tb.click(fmt.Sprintf("#write-contact-%d", vera.ID))

	// WhatsApp: both of Vera's phones from the CRM, the second chosen.
	tb.waitJS(`document.querySelectorAll("#write-first .handle-choice").length === 2`)
	if got := tb.str(`[...document.querySelectorAll("#write-first .handle-choice")].map(n => n.textContent).join("|")`); got != "+79165551001|+79165551002" {
		t.Errorf("phones offered: %q", got)
	}
	tb.click("#write-handle-1")
	tb.waitJS(`!document.querySelector("#write-go").disabled`)
	tb.shot("write-first-choose")
	tb.click("#write-go")
	tb.waitJS(`document.querySelector("#conv-sub .conv-channel") && document.querySelector("#conv-sub .conv-channel").textContent === "Резервный WhatsApp"`)
	tb.waitJS(`document.querySelector("#write-first").hidden && !document.querySelector("#composer").hidden && !document.querySelector("#composer-input").disabled`)
	tb.click("#composer-input")
	tb.run(chromedpSend("Вера, добрый день! Пишу по поводу кухни."))
	tb.waitJS(`[...document.querySelectorAll(".msg-out")].some(m => m.querySelector(".msg-text").textContent === "Вера, добрый день! Пишу по поводу кухни." && ["sent", "delivered", "read"].includes(m.getAttribute("data-status")))`)
	e.eventually("the first message reaches Wazzup on the chosen channel and number", func() bool {
		for _, s := range e.World.Acc.Sent() {
			if s.Request.Text == "Вера, добрый день! Пишу по поводу кухни." {
				if s.Request.ChannelID != e.WA3.ChannelID || s.Request.ChatID != "79165551002" {
					t.Fatalf("sent on %s to %s, want %s to 79165551002", s.Request.ChannelID, s.Request.ChatID, e.WA3.ChannelID)
				}
				return true
			}
		}
		return false
	})
	tb.shot("write-first-from-card")
}

// A file the gateway refused shows its size and «Повторить»: the retry goes
// out once as a new message, and the refused one says it was sent again.
// An employee without can_write sees the composer off with the reason, and
// so does everyone in a dialog whose channel waits for its QR scan.
func TestComposerRulesAndFileRetry(t *testing.T) {
	e := newEnv(t)
	anna := e.write(e.client("Анна Морозова"), "Пришлите договор")
	tb := e.open(generalChat, 1280, 800)
	tb.click(rowSel(anna.ID))
	tb.waitJS(`[...document.querySelectorAll(".msg-in .msg-text")].some(n => n.textContent === "Пришлите договор")`)

	const size = 1258291 // 1,2 МБ
	e.World.Acc.SetFault(&wztest.Fault{Status: 400, Body: `{"error":"CHANNEL_BLOCKED","description":"Channel is blocked"}`, Path: "/v3/message"})
	tb.yes(`(() => { const dt = new DataTransfer(); dt.items.add(` + fileJS("Договор.pdf", "application/pdf", nil, "%PDF-1.4\n", size) + `);
		const c = document.querySelector("#conversation");
		c.dispatchEvent(new DragEvent("dragenter", {dataTransfer: dt, bubbles: true, cancelable: true}));
		c.dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true})); return true })()`)
	tb.waitJS(`!document.querySelector("#file-preview").hidden`)
	tb.click("#send-btn")
	tb.waitJS(`!!document.querySelector(".msg-out[data-kind='document'][data-status='error']:not(.msg-local) .retry-btn")`)
	if got := tb.str(`document.querySelector(".msg-out[data-status='error'] .att-size").textContent`); got != "1,2 МБ" {
		t.Errorf("the document's size reads %q", got)
	}
	tb.shot("file-retry-refused")
	tb.click(".msg-out[data-status='error'] .retry-btn")
	tb.waitJS(`[...document.querySelectorAll(".msg-out[data-kind='document']")].some(m => ["sent", "delivered", "read"].includes(m.getAttribute("data-status")))`)
	tb.waitJS(`!!document.querySelector(".msg-out[data-status='error'] .msg-retried") && !document.querySelector(".msg-out[data-status='error'] .retry-btn")`)
	e.eventually("Wazzup got the retried file once", func() bool { return len(sentFiles(e.World.Acc)) == 1 })
	if f := sentFiles(e.World.Acc)[0]; len(f.Bytes) != size || f.Name != "Договор.pdf" {
		t.Fatalf("Wazzup got %q, %d bytes", f.Name, len(f.Bytes))
	}
	tb.shot("file-retry-sent")

	// The salesperson may read but not write.
	if s := e.api("PUT", "/api/v1/access/2", e.Admin, map[string]any{"visibility": "all", "can_write": false}, nil); s != http.StatusOK {
		t.Fatalf("access: %d", s)
	}
	sales := e.open(generalChat+"&user=2", 1280, 800)
	sales.click(rowSel(anna.ID))
	sales.waitJS(`document.querySelector("#composer-input").disabled && !document.querySelector("#composer-note").hidden && document.querySelectorAll("#messages .msg").length === 3`)
	if got := sales.str(`document.querySelector("#composer-note").textContent`); got != "Вы можете читать этот диалог, но не писать в него" {
		t.Errorf("read-only note %q", got)
	}
	if !sales.yes(`document.querySelector("#send-btn").disabled && document.querySelector("#attach-btn").disabled`) {
		t.Error("a read-only employee can still press send or attach")
	}
	sales.shot("composer-read-only")

	// The channel waits for its QR scan: the admin's composer is off too.
	if _, err := e.App.Store.DB().Exec(`UPDATE channels SET state = 'qr' WHERE id = $1`, anna.Channel.ID); err != nil {
		t.Fatal(err)
	}
	admin := e.open(generalChat, 1280, 800)
	admin.click(rowSel(anna.ID))
	admin.waitJS(`document.querySelector("#composer-input").disabled && !document.querySelector("#composer-note").hidden && document.querySelectorAll("#messages .msg").length === 3`)
	if got := admin.str(`document.querySelector("#composer-note").textContent`); !strings.HasPrefix(got, "Канал «WhatsApp отдела продаж» сейчас не может отправлять сообщения") {
		t.Errorf("inactive channel note %q", got)
	}
	admin.shot("composer-channel-inactive")
}
