package uitest

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/relay24/relay24/netguard"
)

// A client's message with a link shows the page's card under the text —
// title, description, site, the picture through relay24's proxy — where
// the user's «богатые ссылки» preference is on, and only the plain link
// where it is off. The page is the test's own server, which the test lets
// relay24 reach (it is on loopback, which relay24 refuses otherwise).
func TestRichLinkPreview(t *testing.T) {
	var pic bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for x := range 64 {
		for y := range 64 {
			img.Set(x, y, color.RGBA{uint8(40 + x*3), uint8(120 + y), 200, 255})
		}
	}
	_ = png.Encode(&pic, img)
	var pageHits, browserHits atomic.Int32
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.UserAgent(), "Chrome") {
			browserHits.Add(1) // the browser asked the third party itself
		}
		if r.URL.Path == "/cover.png" {
			w.Header().Set("Content-Type", "image/png")
			w.Write(pic.Bytes())
			return
		}
		pageHits.Add(1)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html><head><title>Летняя коллекция — Магазин</title>
			<meta property="og:title" content="Летняя коллекция 2026">
			<meta property="og:description" content="Платья, сарафаны и льняные костюмы: доставка по России за 2 дня.">
			<meta property="og:site_name" content="Магазин «Лето»">
			<meta property="og:image" content="/cover.png"></head><body>…</body></html>`)
	}))
	defer site.Close()
	u, _ := url.Parse(site.URL)

	e := newEnv(t)
	e.App.Links.Fetcher.SetTrusted(netguard.TrustOnly(u.Host))
	link := site.URL + "/summer"
	d := e.write(e.client("Анна Морозова"), "Посмотрите, пожалуйста: "+link+" — есть размер M?")

	tb := e.open(generalChat, 1280, 800)
	tb.click(rowSel(d.ID))
	tb.waitJS(`(() => { const t = document.querySelector(".msg-in .link-card .link-card-title");
		return t !== null && t.textContent === "Летняя коллекция 2026" })()`)
	card := `document.querySelector(".msg-in .link-card")`
	if got := tb.str(card + `.querySelector(".link-card-site").textContent`); got != "Магазин «Лето»" {
		t.Errorf("site %q", got)
	}
	if got := tb.str(card + `.querySelector(".link-card-desc").textContent`); got != "Платья, сарафаны и льняные костюмы: доставка по России за 2 дня." {
		t.Errorf("description %q", got)
	}
	a := card + `.querySelector("a")`
	if got := tb.str(a + `.href + " " + ` + a + `.target + " " + ` + a + `.rel`); got != link+" _blank noopener noreferrer" {
		t.Errorf("card link %q", got)
	}
	// The picture is relay24's proxy, never the page's own server.
	tb.waitJS(card + `.querySelector("img.link-card-image") !== null && ` + card + `.querySelector("img.link-card-image").naturalWidth === 64`)
	if src := tb.str(card + `.querySelector("img").getAttribute("src")`); !bytes.HasPrefix([]byte(src), []byte("/link-preview/image?")) {
		t.Errorf("picture src %q", src)
	}
	if got := tb.str(`document.querySelector(".msg-in .msg-text a").rel`); got != "noopener noreferrer nofollow" {
		t.Errorf("text link rel %q", got)
	}
	tb.shot("rich-link-preview")

	// A link straight to a picture shows the picture, through the proxy too.
	d2 := e.write(e.client("Борис Орлов"), "Вот такой цвет: "+site.URL+"/cover.png")
	tb.click(rowSel(d2.ID))
	pic2 := `document.querySelector(".msg-in .link-card img")`
	tb.waitJS(pic2 + ` !== null && ` + pic2 + `.naturalWidth === 64`)
	if src := tb.str(pic2 + `.getAttribute("src")`); !strings.HasPrefix(src, "/link-preview/image?") {
		t.Errorf("picture link's src %q", src)
	}
	if n := browserHits.Load(); n != 0 {
		t.Errorf("the browser asked the linked site itself %d times", n)
	}
	tb.click(rowSel(d.ID))
	tb.waitJS(`document.querySelector(".msg-in .link-card .link-card-title") !== null`)

	// Turned off in the preferences: the card goes at once, the link stays.
	tb.click(".sidebar .prefs-toggle")
	tb.waitJS(`!document.querySelector("#prefs-panel").hidden`)
	tb.click("#pref-rich_links")
	tb.waitJS(`document.querySelectorAll(".link-card").length === 0 && ` +
		`[...document.querySelectorAll(".msg-in .msg-text a")].some(a => a.href === ` + q(link) + `)`)
	var prefs struct {
		RichLinks bool `json:"rich_links"`
	}
	e.eventually("rich_links off is saved", func() bool {
		prefs.RichLinks = true
		e.api("GET", "/api/v1/me/preferences", e.Admin, nil, &prefs)
		return !prefs.RichLinks
	})
	// A page opened with it off makes no card at all.
	off := e.open(generalChat, 1280, 800)
	off.click(rowSel(d.ID))
	off.waitJS(`[...document.querySelectorAll(".msg-in .msg-text a")].some(a => a.href === ` + q(link) + ` && a.target === "_blank")`)
	if n := off.num(`document.querySelectorAll(".link-card").length`); n != 0 {
		t.Errorf("%d cards with rich links off", n)
	}
	off.shot("rich-link-off")
	if n := pageHits.Load(); n != 1 {
		t.Errorf("the page was fetched %d times", n)
	}
}
