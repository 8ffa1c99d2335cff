// Package web holds relay24's pages and static assets, embedded in the binary
// and parsed once at start-up (a broken template stops the boot, not a request).
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// bundles are scripts served as one file made of the parts in a folder of
// static, in name order, inside one function (as miniflux bundles its
// JavaScript): the parts share one scope as the single file they were did,
// each stays a file of one subject, the browser makes one request and there
// is no build step. A part is not served alone.
var bundles = []struct{ name, dir, prefix, suffix string }{
	{"chat.js", "chat",
		"// relay24 chat: the general chat (every dialog the employee may see) and the\n" +
			"// individual chat (the dialogs of one deal's, lead's or contact's clients),\n" +
			"// both inside the Bitrix24 iframe. Bundled by package web from\n" +
			"// web/static/chat/*.js; plain JavaScript, no build step.\n" +
			"//\n" +
			"// Client text is text: everything a client or an employee wrote goes into the\n" +
			"// page through textContent or DOM properties, never through innerHTML.\n" +
			"(function () {\n\"use strict\";\n",
		"})();\n"},
}

// Assets renders pages and serves static files under checksummed URLs.
type Assets struct {
	pages   *template.Template
	sums    map[string]string // file name → short content hash
	static  fs.FS
	bundled map[string][]byte // bundle name → its content
}

// bundle joins a bundle's parts.
func bundle(static fs.FS, dir, prefix, suffix string) ([]byte, error) {
	parts, err := fs.Glob(static, dir+"/*.js")
	if err != nil || len(parts) == 0 {
		return nil, fmt.Errorf("web: bundle %s: no parts (%v)", dir, err)
	}
	var b bytes.Buffer
	b.WriteString(prefix)
	for _, p := range parts { // Glob answers in name order
		c, err := fs.ReadFile(static, p)
		if err != nil {
			return nil, err
		}
		b.WriteString("\n// ---- " + p + "\n")
		b.Write(c)
	}
	b.WriteString(suffix)
	return b.Bytes(), nil
}

// New parses the templates.
func New() (*Assets, error) {
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("web: static: %w", err)
	}
	a := &Assets{static: static, sums: map[string]string{}, bundled: map[string][]byte{}}
	parts := map[string]bool{}
	for _, bd := range bundles {
		b, err := bundle(static, bd.dir, bd.prefix, bd.suffix)
		if err != nil {
			return nil, err
		}
		a.bundled[bd.name] = b
		h := sha256.Sum256(b)
		a.sums[bd.name] = hex.EncodeToString(h[:6])
		parts[bd.dir] = true
	}
	err = fs.WalkDir(static, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if parts[p] {
				return fs.SkipDir
			}
			return nil
		}
		b, err := fs.ReadFile(static, p)
		if err != nil {
			return err
		}
		h := sha256.Sum256(b)
		a.sums[p] = hex.EncodeToString(h[:6])
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web: hashing assets: %w", err)
	}
	funcs := template.FuncMap{"asset": a.URL}
	a.pages, err = template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: parsing templates: %w", err)
	}
	return a, nil
}

// URL is the cache-busting URL of a static file.
func (a *Assets) URL(name string) string {
	return "/static/" + name + "?v=" + a.sums[name]
}

// Render executes a page template into w.
func (a *Assets) Render(w io.Writer, name string, data any) error {
	var buf bytes.Buffer
	if err := a.pages.ExecuteTemplate(&buf, name, data); err != nil {
		return fmt.Errorf("web: rendering %s: %w", name, err)
	}
	_, err := buf.WriteTo(w)
	return err
}

// Static serves the embedded files; checksummed URLs may be cached for a year.
func (a *Assets) Static() http.Handler {
	files := http.FileServerFS(a.static)
	return http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if _, ok := a.sums[name]; !ok {
			http.NotFound(w, r)
			return
		}
		if r.URL.Query().Get("v") == a.sums[name] {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		if b, ok := a.bundled[name]; ok {
			http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
			return
		}
		files.ServeHTTP(w, r)
	}))
}
