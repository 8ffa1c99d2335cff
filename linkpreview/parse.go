package linkpreview

import (
	"io"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// MaxText caps every string of a preview, in characters.
const MaxText = 300

// maxURL caps a URL kept in a preview (the image's).
const maxURL = 2048

// parse reads a page's head for its Open Graph, twitter: and plain tags.
// The page is hostile: the tokenizer never builds a tree, stops at the
// body (the tags a preview uses live in the head), and the strings are
// cleaned and capped. base resolves a relative og:image.
func parse(r io.Reader, base *url.URL) Preview {
	z := html.NewTokenizer(r)
	meta := map[string]string{}
	var title string
	inTitle := false
loop:
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			break loop
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			switch atom.Lookup(name) {
			case atom.Body:
				break loop
			case atom.Title:
				inTitle = tt == html.StartTagToken && title == ""
			case atom.Base:
				for hasAttr {
					var k, v []byte
					k, v, hasAttr = z.TagAttr()
					if string(k) == "href" {
						if b, err := base.Parse(strings.TrimSpace(string(v))); err == nil {
							base = b
						}
					}
				}
			case atom.Meta:
				var key, content string
				for hasAttr {
					var k, v []byte
					k, v, hasAttr = z.TagAttr()
					switch string(k) {
					case "property", "name":
						if key == "" {
							key = strings.ToLower(strings.TrimSpace(string(v)))
						}
					case "content":
						content = string(v)
					}
				}
				if _, seen := meta[key]; key != "" && !seen {
					meta[key] = content
				}
			}
		case html.TextToken:
			if inTitle {
				title += string(z.Text())
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			switch atom.Lookup(name) {
			case atom.Title:
				inTitle = false
			case atom.Head:
				break loop
			}
		}
	}
	first := func(keys ...string) string {
		for _, k := range keys {
			if s := clean(meta[k]); s != "" {
				return s
			}
		}
		return ""
	}
	p := Preview{
		Title:       first("og:title", "twitter:title"),
		Description: first("og:description", "twitter:description", "description"),
		SiteName:    first("og:site_name", "application-name"),
	}
	if p.Title == "" {
		p.Title = clean(title)
	}
	if img := strings.TrimSpace(first("og:image", "og:image:url", "og:image:secure_url", "twitter:image", "twitter:image:src")); img != "" {
		if u, err := base.Parse(img); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil {
			if s := u.String(); len(s) <= maxURL {
				p.Image = s
			}
		}
	}
	return p
}

// clean makes a page's string safe to show and store: valid UTF-8, no
// control or format characters (bidi overrides included), whitespace
// collapsed, at most MaxText characters.
func clean(s string) string {
	var b strings.Builder
	space, n := false, 0
	for _, r := range strings.ToValidUTF8(s, "") {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), r == utf8.RuneError, r == 0:
			continue
		}
		if n >= maxScan {
			break
		}
		if space {
			b.WriteByte(' ')
			space = false
			n++
		}
		b.WriteRune(r)
		n++
	}
	if r := []rune(b.String()); len(r) > MaxText {
		return strings.TrimSpace(string(r[:MaxText-1])) + "…"
	}
	return b.String()
}

// maxScan is how many characters clean looks at: enough to know the
// string is over the cap.
const maxScan = MaxText + 1
