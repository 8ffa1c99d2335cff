package bitrix

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// EncodeQuery renders nested parameters in the PHP bracket syntax the portal
// parses (filter[>ID]=5&select[]=ID&select[]=NAME). Batch commands carry their
// parameters this way, so the same encoding must round-trip through DecodeForm.
// Keys are sorted so that a command string is stable (tests and logs compare it).
func EncodeQuery(params map[string]any) string {
	var parts []string
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = appendEncoded(parts, k, params[k])
	}
	return strings.Join(parts, "&")
}

func appendEncoded(parts []string, prefix string, v any) []string {
	switch t := v.(type) {
	case nil:
		return append(parts, url.QueryEscape(prefix)+"=")
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			parts = appendEncoded(parts, prefix+"["+k+"]", t[k])
		}
		return parts
	case map[string]string:
		m := make(map[string]any, len(t))
		for k, s := range t {
			m[k] = s
		}
		return appendEncoded(parts, prefix, m)
	case []any:
		for i, e := range t {
			parts = appendEncoded(parts, prefix+"["+strconv.Itoa(i)+"]", e)
		}
		return parts
	case []string:
		for i, e := range t {
			parts = appendEncoded(parts, prefix+"["+strconv.Itoa(i)+"]", e)
		}
		return parts
	case []int:
		for i, e := range t {
			parts = appendEncoded(parts, prefix+"["+strconv.Itoa(i)+"]", e)
		}
		return parts
	case bool:
		if t {
			return append(parts, url.QueryEscape(prefix)+"=Y")
		}
		return append(parts, url.QueryEscape(prefix)+"=N")
	case string, json.Number, int, int64, int32, float64, float32, uint, uint64:
		return append(parts, url.QueryEscape(prefix)+"="+url.QueryEscape(fmt.Sprint(t)))
	}
	// Any other list or string-keyed map ([]map[string]any of a multifield,
	// []int64 of ids): element by element, as PHP reads a[0][VALUE]. Only
	// a scalar may be printed whole.
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 {
			break // []byte: text
		}
		for i := range rv.Len() {
			parts = appendEncoded(parts, prefix+"["+strconv.Itoa(i)+"]", rv.Index(i).Interface())
		}
		return parts
	case reflect.Map:
		if rv.Type().Key().Kind() == reflect.String {
			m := make(map[string]any, rv.Len())
			for it := rv.MapRange(); it.Next(); {
				m[it.Key().String()] = it.Value().Interface()
			}
			return appendEncoded(parts, prefix, m)
		}
	case reflect.Pointer:
		if rv.IsNil() {
			return append(parts, url.QueryEscape(prefix)+"=")
		}
		return appendEncoded(parts, prefix, rv.Elem().Interface())
	}
	return append(parts, url.QueryEscape(prefix)+"="+url.QueryEscape(fmt.Sprint(v)))
}

// DecodeForm turns PHP-style bracketed form values (auth[member_id],
// data[FIELDS][ID], select[]) into nested maps, the way the portal's PHP reads
// them. Objects whose keys are exactly 0..n-1 become lists. Scalars stay
// strings: the portal's form data carries no types. It takes time linear in
// the form (a form of thousands of a[] must not cost seconds) and refuses
// nesting deeper than PHP's max_input_nesting_level.
func DecodeForm(values url.Values) (map[string]any, error) {
	root := newFormNode()
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		path, err := splitKey(key)
		if err != nil {
			return nil, err
		}
		for _, v := range values[key] {
			if err := root.insert(path, v); err != nil {
				return nil, fmt.Errorf("form key %q: %w", clip(key), err)
			}
		}
	}
	out := make(map[string]any, len(root.kids))
	for k, c := range root.kids {
		out[k] = finish(c)
	}
	return out, nil
}

// CheckFormText refuses a form whose keys or values are not valid UTF-8 or
// hold a NUL byte. A portal never sends either, and PostgreSQL refuses both
// in text and jsonb: let through, a malformed request becomes a server error
// halfway instead of a clear refusal before anything is read or written.
// DecodeForm itself stays lenient: the emulated portal decodes the
// application's requests with it, as the real portal's PHP would.
func CheckFormText(values url.Values) error {
	for k, vs := range values {
		if !cleanText(k) {
			return fmt.Errorf("form key %q is not valid UTF-8 text without NUL bytes", clip(k))
		}
		for _, v := range vs {
			if !cleanText(v) {
				return fmt.Errorf("the value of form key %q is not valid UTF-8 text without NUL bytes", clip(k))
			}
		}
	}
	return nil
}

func cleanText(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

// clip keeps error messages short: a key may be a megabyte long.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// maxFormDepth is PHP's default max_input_nesting_level: the portal's own
// forms are never deeper.
const maxFormDepth = 64

// splitKey splits "a[b][c]" into [a b c]; "a[]" yields an empty last segment.
func splitKey(key string) ([]string, error) {
	i := strings.IndexByte(key, '[')
	if i < 0 {
		return []string{key}, nil
	}
	if i == 0 {
		return nil, fmt.Errorf("form key %q has no name", clip(key))
	}
	path := []string{key[:i]}
	rest := key[i:]
	for rest != "" {
		if rest[0] != '[' {
			return nil, fmt.Errorf("form key %q is malformed", clip(key))
		}
		j := strings.IndexByte(rest, ']')
		if j < 0 {
			return nil, fmt.Errorf("form key %q is malformed", clip(key))
		}
		if len(path) > maxFormDepth {
			return nil, fmt.Errorf("form key %q is nested deeper than %d", clip(key), maxFormDepth)
		}
		path = append(path, rest[1:j])
		rest = rest[j+1:]
	}
	return path, nil
}

// formNode is an object being decoded, with PHP's next free integer index
// kept as members arrive, so that appending (a[]) costs O(1).
type formNode struct {
	kids map[string]any // string or *formNode
	next int
	full bool // the largest integer index is taken: PHP appends nothing more
}

func newFormNode() *formNode { return &formNode{kids: map[string]any{}} }

func (n *formNode) set(seg string, v any) {
	// Only canonical non-negative integers are integer keys ("05" is a string
	// key in PHP too).
	if i, err := strconv.Atoi(seg); err == nil && i >= n.next && strconv.Itoa(i) == seg {
		if i == math.MaxInt {
			n.full = true
		} else {
			n.next = i + 1
		}
	}
	n.kids[seg] = v
}

func (n *formNode) insert(path []string, value string) error {
	for i, seg := range path {
		last := i == len(path)-1
		if seg == "" {
			// PHP appends: use the next free integer index.
			if n.full {
				return fmt.Errorf("no free index to append to")
			}
			seg = strconv.Itoa(n.next)
		}
		child, exists := n.kids[seg]
		if last {
			if _, isNode := child.(*formNode); isNode {
				return fmt.Errorf("%q is both a value and an object", clip(seg))
			}
			n.set(seg, value)
			return nil
		}
		if !exists {
			c := newFormNode()
			n.set(seg, c)
			n = c
			continue
		}
		c, ok := child.(*formNode)
		if !ok {
			return fmt.Errorf("%q is both a value and an object", clip(seg))
		}
		n = c
	}
	return nil
}

// finish turns a decoded member into maps and strings; an object whose keys
// are exactly 0..n-1 becomes a list.
func finish(v any) any {
	n, ok := v.(*formNode)
	if !ok {
		return v
	}
	m := make(map[string]any, len(n.kids))
	for k, c := range n.kids {
		m[k] = finish(c)
	}
	if len(m) == 0 {
		return m
	}
	list := make([]any, len(m))
	for k, c := range m {
		i, err := strconv.Atoi(k)
		if err != nil || i < 0 || i >= len(m) || strconv.Itoa(i) != k {
			return m
		}
		list[i] = c
	}
	return list
}
