package b24test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/relay24/relay24/bitrix"
)

// MaxBatch is the most commands one batch may carry.
const MaxBatch = 50

// runBatch executes a batch: commands in wire order, $result[...]
// references substituted from earlier results, halt=1 stops at the first
// error. It returns the sub-command calls for the caller to record after the
// batch itself.
func (p *Portal) runBatch(c *callCtx, in params, order []string) (*restResult, *apiError, []Call) {
	keys, cmds := batchCommands(in, order)
	if len(keys) > MaxBatch {
		return nil, errCode(http.StatusBadRequest, "ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded"), nil
	}
	haltV, _ := in.get("halt")
	halt := asBool(haltV)

	result, resultErr, resultTotal, resultNext, resultTime := newOmap(), newOmap(), newOmap(), newOmap(), newOmap()
	resolved := map[string]any{} // JSON view of earlier results, for references
	var calls []Call
	for _, key := range keys {
		subStart := p.o.Now()
		sc := &callCtx{userID: c.userID, admin: c.admin, inBatch: true, now: subStart}
		method, sub, aerr := parseBatchCommand(cmds[key])
		if aerr == nil && method == "batch" {
			aerr = errCode(http.StatusMethodNotAllowed, "ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage")
		}
		if aerr == nil {
			aerr = p.applyPageFault(method, sub) // SetPageFault
		}
		if aerr == nil {
			aerr = resolveReferences(sub, result, resultTotal, resultNext, resolved)
		}
		var res *restResult
		if aerr == nil {
			res, aerr = p.dispatch(method, sub, sc)
			c.events = append(c.events, sc.events...)
		}
		calls = append(calls, Call{Method: method, Params: sub, Status: statusOf(aerr), Error: codeOf(aerr), InBatch: true, UserID: c.userID, At: subStart})
		if aerr != nil {
			resultErr.set(key, map[string]string{"error": aerr.Code, "error_description": aerr.Desc})
			if halt {
				break
			}
			continue
		}
		result.set(key, res.value)
		if res.total != nil {
			resultTotal.set(key, *res.total)
		}
		if res.next != nil {
			resultNext.set(key, *res.next)
		}
		resultTime.set(key, newTimeInfo(subStart, p.o.Now(), nil))
	}
	out := newOmap()
	out.set("result", result)
	out.set("result_error", resultErr)
	out.set("result_total", resultTotal)
	out.set("result_next", resultNext)
	out.set("result_time", resultTime)
	return &restResult{value: out}, nil, calls
}

// batchCommands returns the command keys in execution order and the
// commands. cmd may be an object (keys as sent) or a list (keys 0..n-1).
func batchCommands(in params, order []string) ([]string, map[string]any) {
	raw, _ := in.get("cmd")
	cmds := map[string]any{}
	var keys []string
	switch t := raw.(type) {
	case []any:
		for i, v := range t {
			k := strconv.Itoa(i)
			keys = append(keys, k)
			cmds[k] = v
		}
		return keys, cmds
	case map[string]any:
		cmds = t
	default:
		return nil, cmds
	}
	seen := map[string]bool{}
	for _, k := range order {
		if _, ok := cmds[k]; ok && !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	var rest []string
	for k := range cmds {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(keys, rest...), cmds
}

// parseBatchCommand splits "method?query" and decodes the query the way
// parse_str does (the command was URL-encoded once more by the client).
func parseBatchCommand(v any) (string, params, *apiError) {
	s, ok := asString(v)
	if !ok || strings.TrimSpace(s) == "" {
		return "", nil, errMethodNotFound()
	}
	method, query, _ := strings.Cut(s, "?")
	method = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(method)), ".json")
	decoded, err := bitrix.DecodeForm(pairsToValues(parseQueryLenient(query)))
	if err != nil {
		return method, nil, errCode(http.StatusBadRequest, "INVALID_REQUEST", "Invalid command parameters: "+err.Error())
	}
	return method, params(decoded).without("auth"), nil
}

// batchRefPrefixes are the result arrays a command may reference, longest
// first so that $result_total is not read as $result.
var batchRefPrefixes = []string{"$result_total", "$result_next", "$result"}

// errBatchReference is the emulator's answer to a reference that names no
// earlier result. The real portal silently leaves such text in place; the
// emulator fails the command so that client bugs surface.
func errBatchReference(ref string) *apiError {
	return errCode(http.StatusBadRequest, "ERROR_BATCH_REFERENCE", "Cannot resolve batch reference "+ref)
}

// resolveReferences replaces $result[key][path...] in every string value of
// in (recursively) with the referenced earlier result.
func resolveReferences(in params, result, total, next *omap, cache map[string]any) *apiError {
	var walk func(v any) (any, *apiError)
	walk = func(v any) (any, *apiError) {
		switch t := v.(type) {
		case string:
			return substitute(t, result, total, next, cache)
		case map[string]any:
			for k, e := range t {
				nv, err := walk(e)
				if err != nil {
					return nil, err
				}
				t[k] = nv
			}
			return t, nil
		case []any:
			for i, e := range t {
				nv, err := walk(e)
				if err != nil {
					return nil, err
				}
				t[i] = nv
			}
			return t, nil
		default:
			return v, nil
		}
	}
	for k, v := range in {
		nv, err := walk(v)
		if err != nil {
			return err
		}
		in[k] = nv
	}
	return nil
}

// substitute resolves the references inside one string. A value that is
// exactly one reference takes the referenced value as is (it may be a list
// or an object); otherwise referenced scalars are spliced into the text.
func substitute(s string, result, total, next *omap, cache map[string]any) (any, *apiError) {
	if !strings.Contains(s, "$result") {
		return s, nil
	}
	var out strings.Builder
	rest := s
	for {
		i := strings.Index(rest, "$result")
		if i < 0 {
			out.WriteString(rest)
			break
		}
		out.WriteString(rest[:i])
		tail := rest[i:]
		prefix := ""
		for _, pf := range batchRefPrefixes {
			if strings.HasPrefix(tail, pf+"[") {
				prefix = pf
				break
			}
		}
		if prefix == "" {
			out.WriteString("$result")
			rest = tail[len("$result"):]
			continue
		}
		path, n := refPath(tail[len(prefix):])
		ref := tail[:len(prefix)+n]
		var src *omap
		switch prefix {
		case "$result":
			src = result
		case "$result_total":
			src = total
		default:
			src = next
		}
		val, found := lookupRef(src, prefix, path, cache)
		if !found {
			return nil, errBatchReference(ref)
		}
		if ref == s {
			// A whole-value reference keeps lists and objects; scalars
			// become the strings a form parameter would be.
			if str, scalar := refScalar(val); scalar {
				return str, nil
			}
			return val, nil
		}
		str, scalar := refScalar(val)
		if !scalar {
			return nil, errBatchReference(ref)
		}
		out.WriteString(str)
		rest = tail[len(ref):]
	}
	return out.String(), nil
}

// refPath reads contiguous [segment] groups; n is the length consumed.
func refPath(s string) ([]string, int) {
	var path []string
	n := 0
	for strings.HasPrefix(s[n:], "[") {
		j := strings.IndexByte(s[n:], ']')
		if j < 0 {
			break
		}
		path = append(path, s[n+1:n+j])
		n += j + 1
	}
	return path, n
}

// lookupRef walks path through the JSON form of an earlier result: what the
// client would see, so "ID" of a contact is the string "75".
func lookupRef(src *omap, prefix string, path []string, cache map[string]any) (any, bool) {
	if len(path) == 0 {
		return nil, false
	}
	raw, ok := src.get(path[0])
	if !ok {
		return nil, false
	}
	ck := prefix + "\x00" + path[0]
	cur, cached := cache[ck]
	if !cached {
		b, err := marshal(raw)
		if err != nil {
			return nil, false
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&cur); err != nil {
			return nil, false
		}
		cache[ck] = cur
	}
	for _, seg := range path[1:] {
		switch t := cur.(type) {
		case map[string]any:
			v, ok := t[seg]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(t) {
				return nil, false
			}
			cur = t[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

func refScalar(v any) (string, bool) {
	switch v.(type) {
	case map[string]any, []any:
		return "", false
	case nil:
		return "", true
	}
	return asString(v)
}
