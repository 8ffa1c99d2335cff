package b24test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// portalTZ is the time zone the emulated portal renders datetimes in. Real
// portals answer in the portal's zone with an explicit offset
// ("2024-02-26T00:00:00+02:00"); a fixed non-UTC offset makes clients that
// drop the offset fail visibly.
var portalTZ = time.FixedZone("MSK", 3*3600)

// formatTime renders a datetime the way CRM and user methods do.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(portalTZ).Format("2006-01-02T15:04:05-07:00")
}

// parseTime accepts the datetime spellings Bitrix24 filters accept.
func parseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	layouts := []string{
		time.RFC3339Nano,
		"2006-01-02T15:04:05-0700",
		"2006-01-02T15:04:05",
		"2006-01-02 15:04:05",
		"2006-01-02",
		"02.01.2006 15:04:05",
		"02.01.2006",
	}
	for _, l := range layouts {
		if t, err := time.ParseInLocation(l, s, portalTZ); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// randomHex returns n random bytes hex-encoded (2n characters): tokens,
// codes and member ids all look like this on the real servers.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand never fails on supported platforms; a time-based value
		// keeps the emulator usable rather than crashing a test run.
		return fmt.Sprintf("%0*x", 2*n, time.Now().UnixNano())
	}
	return hex.EncodeToString(b)
}

// omap is a PHP array as json_encode renders it: keys keep insertion order,
// keys 0..n-1 in order make a JSON list, and an empty one is [] (not {}).
// Batch answers depend on exactly this (result_error: [] when empty).
type omap struct {
	keys []string
	vals map[string]any
}

func newOmap() *omap { return &omap{vals: map[string]any{}} }

func (m *omap) set(k string, v any) {
	if _, ok := m.vals[k]; !ok {
		m.keys = append(m.keys, k)
	}
	m.vals[k] = v
}

func (m *omap) get(k string) (any, bool) {
	v, ok := m.vals[k]
	return v, ok
}

func (m *omap) len() int { return len(m.keys) }

// MarshalJSON implements json.Marshaler with PHP semantics.
func (m *omap) MarshalJSON() ([]byte, error) {
	if len(m.keys) == 0 {
		return []byte("[]"), nil
	}
	isList := true
	for i, k := range m.keys {
		if k != strconv.Itoa(i) {
			isList = false
			break
		}
	}
	var buf bytes.Buffer
	if isList {
		buf.WriteByte('[')
		for i, k := range m.keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			b, err := marshal(m.vals[k])
			if err != nil {
				return nil, err
			}
			buf.Write(b)
		}
		buf.WriteByte(']')
		return buf.Bytes(), nil
	}
	buf.WriteByte('{')
	for i, k := range m.keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, err := marshal(k)
		if err != nil {
			return nil, err
		}
		buf.Write(kb)
		buf.WriteByte(':')
		b, err := marshal(m.vals[k])
		if err != nil {
			return nil, err
		}
		buf.Write(b)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// marshal encodes without HTML escaping (the portal does not escape <>&).
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// phpJSON encodes like PHP's json_encode with default flags as far as
// clients can notice: slashes escaped as \/ (PLACEMENT_OPTIONS arrives as
// {"URI":"\/crm\/deal\/..."}) and non-ASCII as \uXXXX.
func phpJSON(v any) string {
	b, err := marshal(v)
	if err != nil {
		return "{}"
	}
	var out strings.Builder
	for _, r := range string(b) {
		switch {
		case r == '/':
			out.WriteString(`\/`)
		case r > 0x7e && r <= 0xffff:
			fmt.Fprintf(&out, `\u%04x`, r)
		case r > 0xffff:
			r -= 0x10000
			fmt.Fprintf(&out, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		default:
			out.WriteRune(r)
		}
	}
	return out.String()
}

// params are the decoded parameters of one REST call. Top-level names are
// looked up case-insensitively because most methods run
// array_change_key_case() on their input.
type params map[string]any

func (p params) get(name string) (any, bool) {
	if v, ok := p[name]; ok {
		return v, true
	}
	for k, v := range p {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

func (p params) str(name string) string {
	v, _ := p.get(name)
	s, _ := asString(v)
	return s
}

func (p params) int(name string) (int, bool) {
	v, ok := p.get(name)
	if !ok {
		return 0, false
	}
	return asInt(v)
}

// without returns a copy of p minus the given top-level keys (case-insensitive).
func (p params) without(names ...string) params {
	out := make(params, len(p))
	for k, v := range p {
		skip := false
		for _, n := range names {
			if strings.EqualFold(k, n) {
				skip = true
				break
			}
		}
		if !skip {
			out[k] = v
		}
	}
	return out
}

// asString converts a scalar parameter (form string, JSON number, bool) to
// the string PHP would see.
func asString(v any) (string, bool) {
	switch t := v.(type) {
	case nil:
		return "", false
	case string:
		return t, true
	case json.Number:
		return t.String(), true
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1e15 {
			return strconv.FormatInt(int64(t), 10), true
		}
		return strconv.FormatFloat(t, 'f', -1, 64), true
	case int:
		return strconv.Itoa(t), true
	case int64:
		return strconv.FormatInt(t, 10), true
	case bool:
		if t {
			return "1", true
		}
		return "", true
	default:
		return "", false
	}
}

// asInt is PHP's intval for the values clients send (leading digits count).
func asInt(v any) (int, bool) {
	s, ok := asString(v)
	if !ok {
		return 0, false
	}
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		return n, true
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return int(f), true
	}
	return 0, false
}

// asBool reads the many spellings of a flag (true, "Y", "1", "true").
func asBool(v any) bool {
	switch t := v.(type) {
	case bool:
		return t
	default:
		s, _ := asString(v)
		switch strings.ToUpper(strings.TrimSpace(s)) {
		case "Y", "1", "TRUE", "YES", "ON":
			return true
		}
		return false
	}
}

// asMap returns v as an object; a JSON list becomes an index-keyed object.
func asMap(v any) (map[string]any, bool) {
	switch t := v.(type) {
	case map[string]any:
		return t, true
	case params:
		return t, true
	case []any:
		m := make(map[string]any, len(t))
		for i, e := range t {
			m[strconv.Itoa(i)] = e
		}
		return m, true
	}
	return nil, false
}

// asList returns v as a list: objects are read in key order (numeric keys
// numerically), scalars become a one-element list.
func asList(v any) []any {
	switch t := v.(type) {
	case nil:
		return nil
	case []any:
		return t
	case []string:
		out := make([]any, len(t))
		for i, s := range t {
			out[i] = s
		}
		return out
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			a, ea := strconv.Atoi(keys[i])
			b, eb := strconv.Atoi(keys[j])
			if ea == nil && eb == nil {
				return a < b
			}
			return keys[i] < keys[j]
		})
		out := make([]any, len(keys))
		for i, k := range keys {
			out[i] = t[k]
		}
		return out
	default:
		return []any{v}
	}
}

// queryPair is one key=value of a query string, in wire order.
type queryPair struct{ key, value string }

// parseQueryLenient splits a query string the way PHP's parse_str does: it
// never fails, undecodable escapes are kept verbatim, '+' is a space.
func parseQueryLenient(q string) []queryPair {
	var out []queryPair
	for _, part := range strings.FieldsFunc(q, func(r rune) bool { return r == '&' }) {
		k, v, _ := strings.Cut(part, "=")
		out = append(out, queryPair{unescapeLenient(k), unescapeLenient(v)})
	}
	return out
}

func unescapeLenient(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return strings.ReplaceAll(s, "+", " ")
}

func pairsToValues(pairs []queryPair) url.Values {
	v := url.Values{}
	for _, p := range pairs {
		if p.key == "" {
			continue
		}
		v[p.key] = append(v[p.key], p.value)
	}
	return v
}

// bracketKeyOrder returns, in wire order and without duplicates, the first
// bracket segment of every key named prefix[...] (cmd[a]=..&cmd[b]=.. → a, b).
// Batch commands run in the order the client sent them.
func bracketKeyOrder(pairs []queryPair, prefix string) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range pairs {
		i := strings.IndexByte(p.key, '[')
		if i < 0 || !strings.EqualFold(p.key[:i], prefix) {
			continue
		}
		j := strings.IndexByte(p.key[i:], ']')
		if j < 0 {
			continue
		}
		k := p.key[i+1 : i+j]
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// jsonObjectKeyOrder returns the key order of the top-level member name
// (case-insensitive) of a JSON object body, when that member is an object.
func jsonObjectKeyOrder(body []byte, name string) []string {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil
		}
		key, _ := kt.(string)
		if !strings.EqualFold(key, name) {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil
			}
			continue
		}
		t, err := dec.Token()
		if err != nil || t != json.Delim('{') {
			return nil
		}
		var keys []string
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return keys
			}
			k, _ := kt.(string)
			keys = append(keys, k)
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return keys
			}
		}
		return keys
	}
	return nil
}

// digitsOnly keeps the digits of a phone number: the duplicate search
// compares phones this way.
func digitsOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// strOrNil renders an optional id: 0 is null, as the portal does.
func strOrNil(id int) any {
	if id == 0 {
		return nil
	}
	return strconv.Itoa(id)
}

func yn(b bool) string {
	if b {
		return "Y"
	}
	return "N"
}
