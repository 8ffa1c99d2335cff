package b24test

import (
	"sort"
	"strconv"
	"strings"
)

// fieldKind tells how a field compares in filters and ordering.
type fieldKind int

const (
	kString fieldKind = iota
	kInt
	kFloat
	kDate
)

// cond is one filter condition: "{op}{FIELD}": values.
type cond struct {
	field  string
	op     string // "=", "!=", ">", ">=", "<", "<=", "in", "!in", "%", "!%"
	values []string
}

// filterOps are the key prefixes of legacy list filters, longest first.
var filterOps = []struct{ prefix, op string }{
	{">=", ">="}, {"<=", "<="}, {"!=", "!="}, {"!@", "!in"}, {"!%", "!%"},
	{"=%", "%"}, {"%=", "%"}, {">", ">"}, {"<", "<"}, {"@", "in"},
	{"!", "!="}, {"=", "="}, {"%", "%"},
}

// parseFilter reads a filter object. A list value means "any of" for
// equality, as the portal treats arrays.
func parseFilter(filter map[string]any) []cond {
	keys := make([]string, 0, len(filter))
	for k := range filter {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic evaluation order
	var out []cond
	for _, k := range keys {
		v := filter[k]
		op := "="
		name := k
		for _, fo := range filterOps {
			if strings.HasPrefix(k, fo.prefix) {
				op, name = fo.op, k[len(fo.prefix):]
				break
			}
		}
		var values []string
		switch t := v.(type) {
		case []any, map[string]any:
			for _, e := range asList(t) {
				s, _ := asString(e)
				values = append(values, s)
			}
			switch op {
			case "=":
				op = "in"
			case "!=":
				op = "!in"
			}
		default:
			s, _ := asString(v)
			values = []string{s}
			if op == "in" || op == "!in" {
				// @ID=1,2,3 is accepted as a comma-separated list
				values = strings.Split(s, ",")
			}
		}
		out = append(out, cond{field: strings.ToUpper(strings.TrimSpace(name)), op: op, values: values})
	}
	return out
}

// compareValues orders a record value against a filter value: -1, 0, 1;
// ok=false when the two cannot be compared (the condition then fails).
func compareValues(a, b string, kind fieldKind) (int, bool) {
	switch kind {
	case kInt, kFloat:
		x, err1 := strconv.ParseFloat(strings.TrimSpace(a), 64)
		y, err2 := strconv.ParseFloat(strings.TrimSpace(b), 64)
		if err1 != nil || err2 != nil {
			if strings.TrimSpace(a) == "" && strings.TrimSpace(b) == "" {
				return 0, true
			}
			if err1 != nil && err2 != nil {
				return strings.Compare(a, b), true
			}
			return 0, false
		}
		switch {
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		}
		return 0, true
	case kDate:
		x, ok1 := parseTime(a)
		y, ok2 := parseTime(b)
		if !ok1 || !ok2 {
			if a == "" && b == "" {
				return 0, true
			}
			return 0, false
		}
		return x.Compare(y), true
	default:
		return strings.Compare(strings.ToLower(a), strings.ToLower(b)), true
	}
}

// matchValues applies c to the values of a field (several for multifields
// and deal contacts: the condition holds when any value satisfies it, and
// negations hold when none does).
func matchValues(vals []string, kind fieldKind, c cond) bool {
	if len(vals) == 0 {
		vals = []string{""}
	}
	anyOf := func(pred func(v, f string) bool) bool {
		for _, v := range vals {
			for _, f := range c.values {
				if pred(v, f) {
					return true
				}
			}
		}
		return false
	}
	eq := func(v, f string) bool { r, ok := compareValues(v, f, kind); return ok && r == 0 }
	switch c.op {
	case "=", "in":
		return anyOf(eq)
	case "!=", "!in":
		return !anyOf(eq)
	case ">":
		return anyOf(func(v, f string) bool { r, ok := compareValues(v, f, kind); return ok && r > 0 })
	case ">=":
		return anyOf(func(v, f string) bool { r, ok := compareValues(v, f, kind); return ok && r >= 0 })
	case "<":
		return anyOf(func(v, f string) bool { r, ok := compareValues(v, f, kind); return ok && r < 0 })
	case "<=":
		return anyOf(func(v, f string) bool { r, ok := compareValues(v, f, kind); return ok && r <= 0 })
	case "%":
		return anyOf(func(v, f string) bool { return strings.Contains(strings.ToLower(v), strings.ToLower(f)) })
	case "!%":
		return !anyOf(func(v, f string) bool { return strings.Contains(strings.ToLower(v), strings.ToLower(f)) })
	}
	return false
}
