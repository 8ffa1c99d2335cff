package uitest

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/relay24/relay24/wazzup/wztest"
)

// photoPNG is a small picture worth looking at in a screenshot.
func photoPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 320, 200))
	for x := 0; x < 320; x++ {
		for y := 0; y < 200; y++ {
			img.Set(x, y, color.RGBA{uint8(40 + x/2), uint8(120 + y/3), 220, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// fileJS is a JavaScript expression making a File of the bytes (or, with
// data nil, of size bytes starting with head).
func fileJS(name, typ string, data []byte, head string, size int) string {
	if data != nil {
		return `new File([Uint8Array.from(atob(` + q(base64.StdEncoding.EncodeToString(data)) + `), c => c.charCodeAt(0))], ` + q(name) + `, {type: ` + q(typ) + `})`
	}
	return `(() => { const b = new Uint8Array(` + strconv.Itoa(size) + `); const h = new TextEncoder().encode(` + q(head) + `); b.set(h); return new File([b], ` + q(name) + `, {type: ` + q(typ) + `}) })()`
}

// sentFiles is what the emulated Wazzup downloaded, in order.
func sentFiles(acc *wztest.Account) []*wztest.File {
	var out []*wztest.File
	for _, m := range acc.Sent() {
		if m.File != nil {
			out = append(out, m.File)
		}
	}
	return out
}

// Files from the composer: a photo chosen with the paperclip's input and a
// caption, shown in the history with its status and opened in the
// lightbox; a PDF dropped on the conversation; a file too large for the
// channel, pasted, refused with the channel's limit in the page's words and
// left in the composer. The gateway gets the exact bytes.
func TestSendFilesFromTheComposer(t *testing.T) {
	e := newEnv(t)
	anna := e.write(e.client("Анна Морозова"), "Пришлите, пожалуйста, фото и прайс")
	photo := photoPNG(t)
	pdf := []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")

	tb := e.open(generalChat, 1280, 800)
	tb.click(rowSel(anna.ID))
	tb.waitJS(`[...document.querySelectorAll(".msg-in .msg-text")].some(n => n.textContent === "Пришлите, пожалуйста, фото и прайс")`)

	// The photo, through the file input the paperclip opens.
	if !tb.yes(`document.querySelector("#attach-btn") !== null && document.querySelector("#file-input").type === "file"`) {
		t.Fatal("no paperclip and file input in the composer")
	}
	tb.yes(`(() => { const dt = new DataTransfer(); dt.items.add(` + fileJS("витрина.png", "image/png", photo, "", 0) + `);
		const i = document.querySelector("#file-input"); i.files = dt.files; i.dispatchEvent(new Event("change")); return true })()`)
	tb.waitJS(`(() => { const i = document.querySelector("#file-preview:not([hidden]) img.file-thumb"); return !!i && i.complete && i.naturalWidth === 320 })()`)
	if got := tb.str(`document.querySelector("#file-preview .file-name").textContent + " · " + document.querySelector("#file-preview .file-size").textContent`); got != "витрина.png · "+sizeRU(len(photo)) {
		t.Errorf("preview %q", got)
	}
	tb.run(chromedp.SendKeys("#composer-input", "Наша витрина"))
	tb.click("#send-btn")
	tb.waitJS(`(() => { const m = [...document.querySelectorAll(".msg-out[data-kind='image']:not(.msg-local)")].pop();
		return !!m && ["sent", "delivered", "read"].includes(m.getAttribute("data-status")) })()`)
	tb.waitJS(`(() => { const i = document.querySelector(".msg-out:not(.msg-local) .msg-att-image img"); return !!i && i.complete && i.naturalWidth === 320 })()`)
	if !tb.yes(`document.querySelector("#file-preview").hidden && document.querySelector("#composer-input").value === "" && document.querySelector("#composer-note").hidden`) {
		t.Error("the composer kept the sent photo, its caption or a note")
	}
	e.eventually("Wazzup got the photo and its caption", func() bool {
		files := sentFiles(e.World.Acc)
		caption := false
		for _, m := range e.World.Acc.Sent() {
			caption = caption || m.Request.Text == "Наша витрина"
		}
		return len(files) == 1 && caption
	})
	if f := sentFiles(e.World.Acc)[0]; !bytes.Equal(f.Bytes, photo) || f.Name != "витрина.png" {
		t.Fatalf("Wazzup got %q, %d bytes", f.Name, len(f.Bytes))
	}
	tb.waitJS(`[...document.querySelectorAll(".msg-out .msg-text")].some(n => n.textContent === "Наша витрина")`)
	// The photo speaks for itself: no «[Изображение]» above it.
	if tb.yes(`[...document.querySelectorAll(".msg-out .msg-text")].some(n => n.textContent.startsWith("["))`) {
		t.Fatal("a file without a caption shows its placeholder text")
	}
	tb.shot("file-send")

	// The lightbox: a click opens the photo large; Esc closes it, and so
	// does a click.
	tb.click(".msg-out:not(.msg-local) .msg-att-image")
	tb.waitJS(`(() => { const i = document.querySelector("#lightbox:not([hidden]) img.lightbox-media"); return !!i && i.complete && i.naturalWidth === 320 })()`)
	tb.shot("file-lightbox")
	tb.run(chromedp.KeyEvent(kb.Escape))
	tb.waitJS(`document.querySelector("#lightbox").hidden`)
	tb.click(".msg-out:not(.msg-local) .msg-att-image")
	tb.waitJS(`!document.querySelector("#lightbox").hidden`)
	tb.click("#lightbox")
	tb.waitJS(`document.querySelector("#lightbox").hidden`)

	// The PDF, dropped on the conversation: no caption.
	tb.yes(`(() => { const dt = new DataTransfer(); dt.items.add(` + fileJS("Прайс 2026.pdf", "application/pdf", pdf, "", 0) + `);
		const c = document.querySelector("#conversation");
		c.dispatchEvent(new DragEvent("dragenter", {dataTransfer: dt, bubbles: true, cancelable: true}));
		c.dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true})); return true })()`)
	tb.waitJS(`!document.querySelector("#file-preview").hidden && document.querySelector("#file-preview .file-name").textContent === "Прайс 2026.pdf"`)
	if !tb.yes(`document.querySelector("#file-preview .file-icon") !== null && document.querySelector("#file-preview img") === null`) {
		t.Error("a PDF's preview is not an icon")
	}
	tb.click("#send-btn")
	tb.waitJS(`(() => { const m = [...document.querySelectorAll(".msg-out[data-kind='document']:not(.msg-local)")].pop();
		return !!m && ["sent", "delivered", "read"].includes(m.getAttribute("data-status")) &&
			m.querySelector("a.msg-att-doc .att-name").textContent === "Прайс 2026.pdf" && m.querySelector("a.msg-att-doc").hasAttribute("download") })()`)
	e.eventually("Wazzup got the PDF", func() bool { return len(sentFiles(e.World.Acc)) == 2 })
	if f := sentFiles(e.World.Acc)[1]; !bytes.Equal(f.Bytes, pdf) || f.Name != "Прайс 2026.pdf" {
		t.Fatalf("Wazzup got %q, %d bytes", f.Name, len(f.Bytes))
	}
	// The composer is free again once its send request ends (the message's
	// status may come by the live stream before that; a file chosen
	// meanwhile would not replace one being sent).
	tb.waitJS(`document.querySelector("#file-preview").hidden`)

	// The connection fails as the message is posted: the reason says what
	// to do, the file stays, and Send again posts the same client_id with
	// the file already uploaded, so it goes out once.
	tb.yes(`(() => { window.__posts = []; window.__uploads = 0; let failed = false; const f = window.fetch;
		window.fetch = function (u, o) {
			if (/\/messages$/.test(u) && o && o.method === "POST") {
				window.__posts.push(JSON.parse(o.body));
				if (!failed) { failed = true; return Promise.reject(new TypeError("offline")); }
			}
			return f.apply(this, arguments);
		};
		const open = XMLHttpRequest.prototype.open;
		XMLHttpRequest.prototype.open = function (m, u) { if (/\/api\/v1\/files$/.test(u)) window.__uploads++; return open.apply(this, arguments); };
		const dt = new DataTransfer(); dt.items.add(` + fileJS("Счёт.pdf", "application/pdf", pdf, "", 0) + `);
		const i = document.querySelector("#file-input"); i.files = dt.files; i.dispatchEvent(new Event("change")); return true })()`)
	tb.waitJS(`!document.querySelector("#file-preview").hidden && document.querySelector("#file-preview .file-name").textContent === "Счёт.pdf"`)
	tb.click("#send-btn")
	tb.waitJS(`!document.querySelector("#composer-note").hidden`)
	if got := tb.str(`document.querySelector("#composer-note").textContent`); got != "Нет связи с сервером — проверьте интернет и нажмите «Отправить» ещё раз" {
		t.Errorf("network failure %q", got)
	}
	if !tb.yes(`!document.querySelector("#file-preview").hidden && document.querySelector(".msg-local") === null`) {
		t.Error("the file did not stay in the composer after a network failure")
	}
	tb.click("#send-btn")
	tb.waitJS(`document.querySelector("#file-preview").hidden && [...document.querySelectorAll(".msg-out[data-kind='document']:not(.msg-local) .att-name")].some(n => n.textContent === "Счёт.pdf")`)
	if !tb.yes(`window.__posts.length === 2 && window.__posts[0].client_id === window.__posts[1].client_id && window.__posts[0].file_id === window.__posts[1].file_id && window.__uploads === 1`) {
		t.Errorf("the retry was not the same message: %s", tb.str(`JSON.stringify({posts: window.__posts, uploads: window.__uploads})`))
	}
	e.eventually("Wazzup got the invoice once", func() bool { return len(sentFiles(e.World.Acc)) == 3 })

	// 11 MB, pasted: over WhatsApp's 10 MB for a document. The reason
	// names the limit in Russian, and the file stays to try again.
	sent := len(e.World.Acc.Sent())
	tb.yes(`(() => { const dt = new DataTransfer(); dt.items.add(` + fileJS("big.pdf", "application/pdf", nil, "%PDF-1.4\n", 11<<20) + `);
		document.querySelector("#composer-input").dispatchEvent(new ClipboardEvent("paste", {clipboardData: dt, bubbles: true, cancelable: true})); return true })()`)
	tb.waitJS(`!document.querySelector("#file-preview").hidden && document.querySelector("#file-preview .file-name").textContent === "big.pdf"`)
	tb.click("#send-btn")
	tb.waitJS(`!document.querySelector("#composer-note").hidden`)
	if got := tb.str(`document.querySelector("#composer-note").textContent`); got != "Канал принимает файлы до 10 МБ — отправьте файл поменьше" {
		t.Errorf("refusal %q", got)
	}
	if !tb.yes(`!document.querySelector("#file-preview").hidden && document.querySelector("#file-preview .file-name").textContent === "big.pdf" &&
		!document.querySelector("#file-remove").disabled && document.querySelector(".msg-local") === null`) {
		t.Error("the refused file is not left in the composer to try again")
	}
	tb.shot("file-refused")
	tb.click("#file-remove")
	tb.waitJS(`document.querySelector("#file-preview").hidden && document.querySelector("#composer-note").hidden`)
	if n := len(e.World.Acc.Sent()); n != sent {
		t.Errorf("the refused file was sent: %d messages, %d before", n, sent)
	}
}

// sizeRU is a size as the Russian page shows it.
func sizeRU(n int) string {
	if n < 1024 {
		return strconv.Itoa(n) + " Б"
	}
	return strconv.Itoa((n+512)/1024) + " КБ"
}
