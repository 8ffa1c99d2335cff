// Package pgsafe makes outside text storable in PostgreSQL. A text column
// refuses the NUL character and invalid UTF-8; a jsonb column also refuses the
// escape \u0000, a lone UTF-16 surrogate escape (half an emoji) and numbers
// beyond its numeric range. Such bytes come from the outside (a gateway's
// webhook, a portal's form, a REST answer); refused by the database they
// would fail the request with a 500 that no retry can mend.
package pgsafe

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Repairs says what JSON needed to become storable (zero: nothing).
type Repairs uint8

// The repairs JSON can need.
const (
	RemovedNUL        Repairs = 1 << iota // \u0000 dropped
	ReplacedSurrogate                     // a lone surrogate escape became U+FFFD
	ReplacedUTF8                          // an invalid UTF-8 byte became U+FFFD
	QuotedNumber                          // a number jsonb cannot hold became a string of its literal
)

// String lists the repairs, for logs.
func (r Repairs) String() string {
	var out []string
	for _, n := range []struct {
		bit  Repairs
		name string
	}{{RemovedNUL, "nul"}, {ReplacedSurrogate, "surrogate"}, {ReplacedUTF8, "utf8"}, {QuotedNumber, "number"}} {
		if r&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	return strings.Join(out, ",")
}

// ErrNotJSON is returned for input that is not one well-formed JSON value.
var ErrNotJSON = errors.New("not well-formed JSON")

// replacement is U+FFFD as a JSON escape (plain ASCII, valid anywhere in a string).
const replacement = `\ufffd`

// Number limits: jsonb holds up to 131072 digits, but prints 1e100000 back
// as 100001 of them, so a 10-byte number could come back as 100 kB on every
// read of the row. Gateways send plain integers and timestamps; anything
// beyond these limits is kept as the string of its literal, which the
// lenient parsers (wazzup, telegram) read exactly as the bare number.
const (
	maxNumberLen      = 64
	maxNumberExponent = 30
)

// JSON returns b changed only as far as jsonb needs: \u0000 removed, lone
// surrogate escapes and invalid UTF-8 bytes replaced by U+FFFD, unstorable
// numbers quoted. Everything else (spacing, key order, escapes) is kept
// byte for byte; clean input is returned as is, without copying. Input
// that is not well-formed JSON is refused with ErrNotJSON.
func JSON(b []byte) ([]byte, Repairs, error) {
	if !json.Valid(b) {
		return nil, 0, ErrNotJSON
	}
	var w rewriter
	w.src = b
	for i := 0; i < len(b); {
		switch c := b[i]; {
		case c == '"':
			i = w.str(i)
		case c == '-' || c >= '0' && c <= '9':
			i = w.number(i)
		default:
			i++
		}
	}
	if w.out == nil {
		return b, 0, nil
	}
	w.out = append(w.out, b[w.last:]...)
	return w.out, w.fixed, nil
}

// rewriter copies src lazily: out stays nil until the first repair.
type rewriter struct {
	src   []byte
	out   []byte
	last  int // src[:last] is in out already
	fixed Repairs
}

// replace puts with in place of src[from:to].
func (w *rewriter) replace(from, to int, with string, why Repairs) {
	if w.out == nil {
		w.out = make([]byte, 0, len(w.src)+16)
	}
	w.out = append(w.out, w.src[w.last:from]...)
	w.out = append(w.out, with...)
	w.last = to
	w.fixed |= why
}

// str scans the string starting at the quote at i (the input is valid
// JSON) and returns the index after its closing quote.
func (w *rewriter) str(i int) int {
	b := w.src
	k := i + 1
	for k < len(b) {
		c := b[k]
		switch {
		case c == '"':
			return k + 1
		case c == '\\':
			if b[k+1] != 'u' {
				k += 2
				continue
			}
			r := hex4(b[k+2 : k+6])
			switch {
			case r == 0:
				w.replace(k, k+6, "", RemovedNUL)
				k += 6
			case r >= 0xD800 && r < 0xDC00:
				if k+12 <= len(b) && b[k+6] == '\\' && b[k+7] == 'u' {
					if lo := hex4(b[k+8 : k+12]); lo >= 0xDC00 && lo <= 0xDFFF {
						k += 12 // a well-formed pair
						continue
					}
				}
				w.replace(k, k+6, replacement, ReplacedSurrogate)
				k += 6
			case r >= 0xDC00 && r <= 0xDFFF:
				w.replace(k, k+6, replacement, ReplacedSurrogate)
				k += 6
			default:
				k += 6
			}
		case c < utf8.RuneSelf:
			k++
		default:
			r, size := utf8.DecodeRune(b[k:])
			if r == utf8.RuneError && size == 1 {
				w.replace(k, k+1, replacement, ReplacedUTF8)
			}
			k += size
		}
	}
	return k
}

// number scans the number at i and quotes it when jsonb cannot hold it
// compactly; it returns the index after the number.
func (w *rewriter) number(i int) int {
	b := w.src
	k := i
	for k < len(b) && strings.IndexByte("+-.eE0123456789", b[k]) >= 0 {
		k++
	}
	lit := string(b[i:k])
	if !storableNumber(lit) {
		w.replace(i, k, `"`+lit+`"`, QuotedNumber)
	}
	return k
}

func storableNumber(lit string) bool {
	if len(lit) > maxNumberLen {
		return false
	}
	e := strings.IndexAny(lit, "eE")
	if e < 0 {
		return true
	}
	exp, err := strconv.Atoi(strings.TrimPrefix(lit[e+1:], "+"))
	return err == nil && exp >= -maxNumberExponent && exp <= maxNumberExponent
}

// hex4 reads four hex digits (valid JSON guarantees them).
func hex4(h []byte) rune {
	var r rune
	for _, c := range h {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

// Text returns s storable in a text column: NUL characters removed, invalid
// UTF-8 replaced by U+FFFD. Clean text (nearly all) is returned as is.
func Text(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}
