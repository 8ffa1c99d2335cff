package relay

import "testing"

// A client's file is shown inline only when it is a type that cannot carry
// script; anything else, whatever it claims to be, is a download.
func TestAttachmentServeAs(t *testing.T) {
	for claimed, want := range map[string]struct {
		ct     string
		inline bool
	}{
		"image/png":                {"image/png", true},
		"IMAGE/JPEG":               {"image/jpeg", true},
		"image/gif":                {"image/gif", true},
		"image/webp":               {"image/webp", true},
		"audio/ogg; codecs=opus":   {"audio/ogg", true},
		"video/mp4":                {"video/mp4", true},
		"text/html":                {Download, false},
		"text/html; charset=utf-8": {Download, false},
		"image/svg+xml":            {Download, false},
		"application/xml":          {Download, false},
		"text/xml":                 {Download, false},
		"application/xhtml+xml":    {Download, false},
		"text/javascript":          {Download, false},
		"application/pdf":          {Download, false},
		"text/plain":               {Download, false},
		"application/x-unknown":    {Download, false},
		"":                         {Download, false},
		"image/png, text/html":     {Download, false},
	} {
		ct, inline := ServeAs(claimed)
		if ct != want.ct || inline != want.inline {
			t.Errorf("ServeAs(%q) = %q, %v; want %q, %v", claimed, ct, inline, want.ct, want.inline)
		}
	}
}

func TestAttachmentTypeOfPath(t *testing.T) {
	for p, want := range map[string]string{
		"photos/file_1.jpg":     "image/jpeg",
		"photos/file_1.JPEG":    "image/jpeg",
		"stickers/file_2.webp":  "image/webp",
		"voice/file_3.oga":      "audio/ogg",
		"videos/file_4.mp4":     "video/mp4",
		"documents/evil.html":   Download,
		"documents/evil.htm":    Download,
		"documents/evil.svg":    Download,
		"documents/evil.xml":    Download,
		"documents/evil.js":     Download,
		"documents/report.pdf":  Download,
		"documents/file":        Download,
		"documents/x.png.html":  Download,
		"documents/file.tar.gz": Download,
	} {
		if got := TypeOfPath(p); got != want {
			t.Errorf("TypeOfPath(%q) = %q, want %q", p, got, want)
		}
	}
}

// Only an absolute http(s) link is ever a redirect target.
func TestAttachmentRedirectTarget(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://store.wazzup24.com/a/b.jpg":       true,
		"HTTPS://store.wazzup24.com/a.jpg":         true,
		"http://127.0.0.1:8080/store/x.png":        true,
		"javascript:alert(1)":                      false,
		"JavaScript:alert(document.domain)":        false,
		"data:text/html,<script>1</script>":        false,
		"vbscript:x":                               false,
		"file:///etc/passwd":                       false,
		"//evil.example/x":                         false,
		"/api/v1/me":                               false,
		"https:evil":                               false,
		"https://user:pw@evil.example/":            false,
		"https://evil.example/\r\nSet-Cookie: x=1": false,
		"tg-file:AgAD":                             false,
		"":                                         false,
	} {
		got, gotOK := redirectTarget(raw)
		if gotOK != ok {
			t.Errorf("redirectTarget(%q) = %q, %v; want ok=%v", raw, got, gotOK, ok)
		}
	}
}
