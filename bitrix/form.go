package bitrix

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
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
	default:
		return append(parts, url.QueryEscape(prefix)+"="+url.QueryEscape(fmt.Sprint(t)))
	}
}

// DecodeForm turns PHP-style bracketed form values (auth[member_id],
// data[FIELDS][ID], select[]) into nested maps, the way the portal's PHP reads
// them. Objects whose keys are exactly 0..n-1 become lists. Scalars stay
// strings: the portal's form data carries no types.
func DecodeForm(values url.Values) (map[string]any, error) {
	root := map[string]any{}
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
			if err := insert(root, path, v); err != nil {
				return nil, fmt.Errorf("form key %q: %w", key, err)
			}
		}
	}
	for k, c := range root {
		root[k] = listify(c)
	}
	return root, nil
}

// splitKey splits "a[b][c]" into [a b c]; "a[]" yields an empty last segment.
func splitKey(key string) ([]string, error) {
	i := strings.IndexByte(key, '[')
	if i < 0 {
		return []string{key}, nil
	}
	if i == 0 {
		return nil, fmt.Errorf("form key %q has no name", key)
	}
	path := []string{key[:i]}
	rest := key[i:]
	for rest != "" {
		if rest[0] != '[' {
			return nil, fmt.Errorf("form key %q is malformed", key)
		}
		j := strings.IndexByte(rest, ']')
		if j < 0 {
			return nil, fmt.Errorf("form key %q is malformed", key)
		}
		path = append(path, rest[1:j])
		rest = rest[j+1:]
	}
	return path, nil
}

func insert(node map[string]any, path []string, value string) error {
	for i, seg := range path {
		last := i == len(path)-1
		if seg == "" {
			// PHP appends: use the next free integer index.
			seg = strconv.Itoa(nextIndex(node))
		}
		if last {
			if _, isMap := node[seg].(map[string]any); isMap {
				return fmt.Errorf("%q is both a value and an object", seg)
			}
			node[seg] = value
			return nil
		}
		child, ok := node[seg]
		if !ok {
			m := map[string]any{}
			node[seg] = m
			node = m
			continue
		}
		m, ok := child.(map[string]any)
		if !ok {
			return fmt.Errorf("%q is both a value and an object", seg)
		}
		node = m
	}
	return nil
}

func nextIndex(m map[string]any) int {
	n := 0
	for k := range m {
		if i, err := strconv.Atoi(k); err == nil && i >= n {
			n = i + 1
		}
	}
	return n
}

func listify(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	for k, c := range m {
		m[k] = listify(c)
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
