package uitest

import (
	"testing"

	"github.com/relay24/relay24/apptest"
)

// startSandbox runs `relay24 demo` on a fresh database until the test ends
// and returns the sandbox URL its banner names.
func startSandbox(t *testing.T) string {
	t.Helper()
	needBrowser(t)
	return apptest.StartDemo(t, apptest.DemoOptions{}).Sandbox
}

// What a newcomer sees after `relay24 demo`: the sandbox URL in the banner,
// the general chat with the seeded dialogs, and a deal card whose chat
// button opens the individual chat of its two contacts.
func TestDemoSandboxInBrowser(t *testing.T) {
	url := startSandbox(t)
	tb := openTab(t, url, 1440, 900)
	tb.waitJS(`(() => { const d = document.querySelector("#frame-general").contentDocument; return d && d.querySelectorAll(".dialog-row").length >= 5 && d.querySelector(".msg") })()`)
	tb.shot("demo-sandbox")
	tb.click(".menu-deal")
	tb.click(".deal-card:not([hidden]) .chat-button")
	tb.waitJS(`(() => { const d = document.querySelector("#frame-deal").contentDocument; const n = d && d.querySelector("#client-name"); return n && n.textContent === "Анна Морозова" && d.querySelector(".msg") })()`)
	tb.shot("demo-deal-chat")

	// A deal whose client never wrote: the chat opens on the contact, and
	// «Создать диалог» is one click away.
	tb.click("#slider-close")
	tb.str(`(document.querySelectorAll(".menu-deal")[1].click(), "")`)
	tb.click(".deal-card:not([hidden]) .chat-button")
	tb.waitJS(`(() => { const d = document.querySelector("#frame-deal").contentDocument; const n = d && d.querySelector('#app[data-ready="true"] #client-name'); return n && n.textContent !== "" && n.textContent !== "Анна Морозова" && !n.disabled })()`)
	tb.str(`(document.querySelector("#frame-deal").contentDocument.querySelector("#channels-toggle").click(), "")`)
	tb.waitJS(`document.querySelector("#frame-deal").contentDocument.querySelector("#create-dialog-btn") !== null`)
	tb.shot("demo-deal-without-dialogs")
}

// fitsJS is true when nothing on the page reaches past the right edge of the
// window (the hidden menu drawer sits left of it).
const fitsJS = `document.documentElement.scrollWidth <= innerWidth && [...document.querySelectorAll("body *")].every(el => {
	const r = el.getBoundingClientRect(); return r.width === 0 || r.right <= innerWidth + 0.5 })`

// The sandbox on a 375 px phone: the portal's left menu folds into a
// button, the chats get the width, nothing overflows sideways, and the menu
// and the deal card's chat still work.
func TestDemoSandboxOnAPhone(t *testing.T) {
	url := startSandbox(t)
	tb := openTab(t, url, 375, 800)
	tb.waitJS(`(() => { const d = document.querySelector("#frame-general").contentDocument; return d && d.querySelectorAll(".dialog-row").length >= 5 })()`)
	if !tb.yes(fitsJS) {
		t.Error("the sandbox overflows 375 px")
	}
	if !tb.yes(`document.querySelector("nav").getBoundingClientRect().right <= 0 && document.querySelector("#frame-general").getBoundingClientRect().width >= 340`) {
		t.Errorf("the menu takes the chat's width: nav %s, chat %s", tb.str(`JSON.stringify(document.querySelector("nav").getBoundingClientRect())`),
			tb.str(`JSON.stringify(document.querySelector("#frame-general").getBoundingClientRect())`))
	}
	if !tb.yes(`(() => { const d = document.querySelector("#frame-general").contentDocument; return d.documentElement.scrollWidth <= d.documentElement.clientWidth })()`) {
		t.Error("the general chat overflows its frame")
	}
	tb.shot("demo-sandbox-375")

	tb.click("#menu-toggle")
	tb.waitJS(`(() => { const r = document.querySelector("nav").getBoundingClientRect(); return r.left >= 0 && r.right <= innerWidth && document.querySelector("#menu-toggle").getAttribute("aria-expanded") === "true" })()`)
	tb.shot("demo-sandbox-375-menu")
	tb.click(".menu-deal")
	// Choosing an item folds the menu away again.
	tb.waitJS(`document.querySelector(".deal-card:not([hidden])") !== null && !document.body.classList.contains("menu-open") && document.querySelector("nav").getBoundingClientRect().right <= 0`)
	tb.click(".deal-card:not([hidden]) .chat-button")
	tb.waitJS(`(() => { const d = document.querySelector("#frame-deal").contentDocument; const n = d && d.querySelector("#client-name"); return n && n.textContent === "Анна Морозова" && d.querySelector(".msg") })()`)
	if !tb.yes(fitsJS) {
		t.Error("the deal chat overflows 375 px")
	}
	if !tb.yes(`(() => { const r = document.querySelector("#slider-close").getBoundingClientRect(); return r.left >= 0 && r.top >= 0 && r.right <= innerWidth })()`) {
		t.Error("the deal chat's close button is off the screen")
	}
	tb.shot("demo-sandbox-375-deal-chat")
	tb.click("#slider-close")
	tb.waitJS(`document.querySelector("#slider").hidden`)
}
