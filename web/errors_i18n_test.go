package web_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/relay24/relay24/web"
)

// errorCodes are every error code the Go code can hand a client: the reasons
// of problem.New and problem.Wrap, the "<what>_not_found" of the store's
// notFound, the reasons a failed reply keeps (relay's failure), the codes of
// the HTTP layer itself, and the ones the chat's script makes up.
func errorCodes(t *testing.T) map[string]string {
	t.Helper()
	codes := map[string]string{
		"internal": "handlers.classify", "body_too_large": "handlers.classify",
		// echo's own refusals, as handlers.classify names them
		"bad_request": "echo", "unauthorized": "echo", "forbidden": "echo", "not_found": "echo",
		"method_not_allowed": "echo", "request_entity_too_large": "echo", "too_many_requests": "echo",
		"network": "chat.js", "http": "chat.js",
	}
	// problem's Code constants, for calls that give no reason.
	consts := map[string]string{}
	fset := token.NewFileSet()
	var nonLiteral []string
	root := ".."
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			// Hidden folders hold no code of the project and may change
			// while the walk runs (.pg is the test cluster's data).
			if n := d.Name(); p != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "node_modules" || n == "artifacts") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return err
		}
		if f.Name.Name == "problem" {
			for _, decl := range f.Decls {
				if g, ok := decl.(*ast.GenDecl); ok && g.Tok == token.CONST {
					for _, sp := range g.Specs {
						vs := sp.(*ast.ValueSpec)
						for i, n := range vs.Names {
							if lit, ok := vs.Values[i].(*ast.BasicLit); ok {
								consts[n.Name], _ = strconv.Unquote(lit.Value)
							}
						}
					}
				}
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			c, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			where := fset.Position(c.Pos()).String()
			lit := func(e ast.Expr) (string, bool) {
				if b, ok := e.(*ast.BasicLit); ok && b.Kind == token.STRING {
					s, _ := strconv.Unquote(b.Value)
					return s, true
				}
				return "", false
			}
			switch fn := c.Fun.(type) {
			case *ast.SelectorExpr:
				x, ok := fn.X.(*ast.Ident)
				if !ok || x.Name != "problem" || (fn.Sel.Name != "New" && fn.Sel.Name != "Wrap") {
					return true
				}
				code, reason := c.Args[0], c.Args[1]
				if fn.Sel.Name == "Wrap" {
					code, reason = c.Args[1], c.Args[2]
				}
				if s, ok := lit(reason); ok {
					if s == "" {
						if sel, ok := code.(*ast.SelectorExpr); ok {
							s = "const:" + sel.Sel.Name
						}
					}
					codes[s] = where
					return true
				}
				nonLiteral = append(nonLiteral, where)
			case *ast.Ident:
				switch fn.Name {
				case "notFound": // store: what + "_not_found"
					if s, ok := lit(c.Args[len(c.Args)-1]); ok {
						codes[s+"_not_found"] = where
					}
				case "failure": // relay: why a reply was not sent
					if s, ok := lit(c.Args[0]); ok {
						codes[s] = where
					} else {
						nonLiteral = append(nonLiteral, where)
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for k, where := range codes {
		if name, ok := strings.CutPrefix(k, "const:"); ok {
			delete(codes, k)
			codes[consts[name]] = where
		}
	}
	// The few reasons passed on from a variable: the ones this test knows.
	known := map[string]bool{"handlers/quickreplies.go": true, "store/store.go": true}
	for _, w := range nonLiteral {
		file := filepath.ToSlash(strings.TrimPrefix(w[:strings.Index(w, ".go:")+3], "../"))
		if !known[file] {
			t.Errorf("%s: an error code not written as a literal; name it literally so its text can be checked", w)
		}
	}
	if len(codes) < 80 {
		t.Fatalf("found only %d error codes: the search no longer matches how the code makes errors", len(codes))
	}
	return codes
}

// Every error a user can meet is said in their language: each code the Go
// code produces has a Russian and an English text in the one catalogue.
func TestEveryErrorCodeHasItsText(t *testing.T) {
	for code, where := range errorCodes(t) {
		for _, lang := range langs {
			if s, ok := web.ErrorText(lang, code); !ok || strings.TrimSpace(s) == "" {
				t.Errorf("%s: code %q (%s) has no text: add \"err_%s\" to web/errors_i18n.go", lang, code, where, code)
			}
		}
	}
}

// A failed reply shows why in the reader's language, with the gateway's own
// words kept in brackets; an old free-text reason is shown as it is.
func TestFailureText(t *testing.T) {
	for _, c := range []struct{ lang, stored, want string }{
		{"ru", "send_channel_disconnected", web.Word("ru", "err_send_channel_disconnected")},
		{"en", "send_refused: CHANNEL_BLOCKED: blocked", web.Word("en", "err_send_refused") + " (CHANNEL_BLOCKED: blocked)"},
		{"ru", "the channel was disconnected", "the channel was disconnected"},
		{"ru", "send_nonexistent", "send_nonexistent"},
	} {
		if got := web.FailureText(c.lang, c.stored); got != c.want {
			t.Errorf("%s %q: %q, want %q", c.lang, c.stored, got, c.want)
		}
	}
	if strings.Contains(web.FailureText("ru", "send_uncertain"), "check the chat") {
		t.Error("the Russian text of a failure is English")
	}
}
