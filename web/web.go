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
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Assets renders pages and serves static files under checksummed URLs.
type Assets struct {
	pages  *template.Template
	sums   map[string]string // file name → short content hash
	static fs.FS
}

// New parses the templates.
func New() (*Assets, error) {
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("web: static: %w", err)
	}
	a := &Assets{static: static, sums: map[string]string{}}
	err = fs.WalkDir(static, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
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
		files.ServeHTTP(w, r)
	}))
}
