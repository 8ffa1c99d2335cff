package pgsafe_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/relay24/relay24/store/pgsafe"
	"github.com/relay24/relay24/store/storetest"
)

var jsonCases = []struct {
	name, in, want string
	fixed          pgsafe.Repairs
}{
	{"clean", `{"a":"привет 👍","n":[1,-2.5,3e10,1E-7],"t":true,"z":null}`, "", 0},
	{"escapes kept", `{"a":"\u00e9\n\"\\u0000\ud83d\ude00"}`, "", 0},
	{"nul escape", `{"text":"a\u0000b"}`, `{"text":"ab"}`, pgsafe.RemovedNUL},
	{"nul in a key", `{"te\u0000xt":1}`, `{"text":1}`, pgsafe.RemovedNUL},
	{"lone high surrogate", `{"text":"cut \ud83d"}`, `{"text":"cut \ufffd"}`, pgsafe.ReplacedSurrogate},
	{"high then non-low", `{"text":"\ud83d\u0041"}`, `{"text":"\ufffd\u0041"}`, pgsafe.ReplacedSurrogate},
	{"lone low surrogate", `{"text":"\ude00x"}`, `{"text":"\ufffdx"}`, pgsafe.ReplacedSurrogate},
	{"invalid utf-8", "{\"text\":\"a\xffb\xc3\"}", `{"text":"a\ufffdb\ufffd"}`, pgsafe.ReplacedUTF8},
	{"utf-8 surrogate", "{\"text\":\"\xed\xa0\x80\"}", `{"text":"\ufffd\ufffd\ufffd"}`, pgsafe.ReplacedUTF8},
	{"huge exponent", `{"dateTime":1e999999,"x":[-1E+400]}`, `{"dateTime":"1e999999","x":["-1E+400"]}`, pgsafe.QuotedNumber},
	{"tiny exponent", `{"v":1e-999999}`, `{"v":"1e-999999"}`, pgsafe.QuotedNumber},
	{"long number", `{"v":` + strings.Repeat("9", 100) + `}`, `{"v":"` + strings.Repeat("9", 100) + `"}`, pgsafe.QuotedNumber},
	{"all at once", "{\"a\":\"\\u0000\\ud800\xfe\",\"b\":1e99}", `{"a":"\ufffd\ufffd","b":"1e99"}`,
		pgsafe.RemovedNUL | pgsafe.ReplacedSurrogate | pgsafe.ReplacedUTF8 | pgsafe.QuotedNumber},
}

func TestJSON(t *testing.T) {
	for _, c := range jsonCases {
		t.Run(c.name, func(t *testing.T) {
			out, fixed, err := pgsafe.JSON([]byte(c.in))
			if err != nil {
				t.Fatal(err)
			}
			want := c.want
			if want == "" {
				want = c.in
			}
			if string(out) != want || fixed != c.fixed {
				t.Fatalf("JSON(%q) = %q, %v; want %q, %v", c.in, out, fixed, want, c.fixed)
			}
		})
	}
	if _, _, err := pgsafe.JSON([]byte(`{"a":`)); !errors.Is(err, pgsafe.ErrNotJSON) {
		t.Fatalf("malformed input: %v", err)
	}
}

// What JSON returns, PostgreSQL's jsonb takes; what it leaves alone, jsonb
// took already. The raw inputs are refused as they are (the hole).
func TestJSONIsAcceptedByJSONB(t *testing.T) {
	db := storetest.DB(t)
	for _, c := range jsonCases {
		out, fixed, err := pgsafe.JSON([]byte(c.in))
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.Get(&n, `SELECT length($1::jsonb::text)`, string(out)); err != nil {
			t.Errorf("%s: jsonb refuses the repaired %q: %v", c.name, out, err)
		}
		if fixed&(pgsafe.RemovedNUL|pgsafe.ReplacedSurrogate|pgsafe.ReplacedUTF8) != 0 {
			if err := db.Get(&n, `SELECT length($1::jsonb::text)`, c.in); err == nil {
				t.Errorf("%s: jsonb took %q as it was; the case tests nothing", c.name, c.in)
			}
		}
	}
	var text string
	if err := db.Get(&text, `SELECT $1::text`, pgsafe.Text("a\x00b\xffc")); err != nil || text != "ab\uFFFDc" {
		t.Fatalf("Text: %q %v", text, err)
	}
}

func FuzzJSON(f *testing.F) {
	for _, c := range jsonCases {
		f.Add([]byte(c.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, fixed, err := pgsafe.JSON(in)
		if err != nil {
			if json.Valid(in) {
				t.Fatalf("valid JSON refused: %q", in)
			}
			return
		}
		if !json.Valid(out) || !utf8.Valid(out) {
			t.Fatalf("JSON(%q) = %q: not valid UTF-8 JSON", in, out)
		}
		if fixed == 0 && !bytes.Equal(out, in) {
			t.Fatalf("JSON(%q) changed clean input to %q", in, out)
		}
		again, refixed, err := pgsafe.JSON(out)
		if err != nil || refixed != 0 || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %q → %q → %q (%v)", in, out, again, refixed)
		}
		var v any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatal(err)
		}
		walk(t, v)
	})
}

// walk checks every decoded string for what jsonb refuses.
func walk(t *testing.T, v any) {
	switch x := v.(type) {
	case string:
		if strings.IndexByte(x, 0) >= 0 {
			t.Fatalf("a NUL survived in %q", x)
		}
	case []any:
		for _, e := range x {
			walk(t, e)
		}
	case map[string]any:
		for k, e := range x {
			walk(t, k)
			walk(t, e)
		}
	}
}
