package b24test

import (
	"math"
	"sort"
	"strconv"
	"strings"
)

// table keeps records sorted by ID (ids are assigned increasing, so adds
// append) and finds them by binary search: listing with filter[>ID] is
// O(log n + page) however large the table is.
type table[T any] struct {
	ids  []int
	recs []*T
	next int // next id to assign
}

func (t *table[T]) pos(id int) (int, bool) {
	i := sort.SearchInts(t.ids, id)
	return i, i < len(t.ids) && t.ids[i] == id
}

func (t *table[T]) get(id int) *T {
	if i, ok := t.pos(id); ok {
		return t.recs[i]
	}
	return nil
}

// put inserts or replaces the record with that id.
func (t *table[T]) put(id int, r *T) {
	if id >= t.next {
		t.next = id + 1
	}
	if n := len(t.ids); n == 0 || t.ids[n-1] < id {
		t.ids = append(t.ids, id)
		t.recs = append(t.recs, r)
		return
	}
	i, found := t.pos(id)
	if found {
		t.recs[i] = r
		return
	}
	t.ids = append(t.ids, 0)
	t.recs = append(t.recs, nil)
	copy(t.ids[i+1:], t.ids[i:])
	copy(t.recs[i+1:], t.recs[i:])
	t.ids[i], t.recs[i] = id, r
}

func (t *table[T]) remove(id int) bool {
	i, found := t.pos(id)
	if !found {
		return false
	}
	t.ids = append(t.ids[:i], t.ids[i+1:]...)
	t.recs = append(t.recs[:i], t.recs[i+1:]...)
	return true
}

func (t *table[T]) len() int { return len(t.ids) }

// fieldDef is one field of a CRM entity as the legacy crm.* methods render
// it (strings, null for empty references).
type fieldDef[T any] struct {
	name string
	kind fieldKind
	get  func(r *T) any
	// filter, when set, gives the values a filter on this field tests
	// (deal CONTACT_ID matches any bound contact).
	filter func(r *T) []string
}

// entity describes one legacy CRM entity for the shared list/get engine.
type entity[T any] struct {
	fields []fieldDef[T]
	byName map[string]int
	id     func(r *T) int
	extra  func(r *T) map[string]any     // UF_* values
	multis func(r *T) map[string][]Multi // PHONE/EMAIL/IM/WEB; nil for deals
}

func newEntity[T any](fields []fieldDef[T], id func(*T) int, extra func(*T) map[string]any, multis func(*T) map[string][]Multi) *entity[T] {
	e := &entity[T]{fields: fields, byName: map[string]int{}, id: id, extra: extra, multis: multis}
	for i, f := range fields {
		e.byName[f.name] = i
	}
	return e
}

// multiFieldNames are the multifields, rendered only when selected.
var multiFieldNames = []string{"PHONE", "EMAIL", "WEB", "IM"}

func isMultiField(name string) bool {
	for _, m := range multiFieldNames {
		if m == name {
			return true
		}
	}
	return false
}

// selection is a parsed select: by default every scalar field, multifields
// and user fields only when named.
type selection struct {
	all    bool
	fields map[string]bool
	uf     bool
}

func parseSelect(v any) selection {
	sel := selection{fields: map[string]bool{}}
	list := asList(v)
	if len(list) == 0 {
		sel.all = true
		return sel
	}
	for _, e := range list {
		s, _ := asString(e)
		s = strings.ToUpper(strings.TrimSpace(s))
		switch s {
		case "*":
			sel.all = true
		case "UF_*":
			sel.uf = true
		case "":
		default:
			sel.fields[s] = true
		}
	}
	return sel
}

// fullSelection is what get methods return: everything.
func fullSelection() selection {
	return selection{all: true, uf: true, fields: map[string]bool{"PHONE": true, "EMAIL": true, "WEB": true, "IM": true}}
}

func (e *entity[T]) render(r *T, sel selection) map[string]any {
	m := make(map[string]any, 16)
	for _, f := range e.fields {
		if f.name == "ID" || sel.all || sel.fields[f.name] {
			m[f.name] = f.get(r)
		}
	}
	if e.extra != nil {
		for k, v := range e.extra(r) {
			if strings.HasPrefix(k, "UF_") && (sel.uf || sel.fields[k]) {
				m[k] = v
			}
		}
	}
	if e.multis != nil {
		var ms map[string][]Multi
		for _, name := range multiFieldNames {
			if !sel.fields[name] {
				continue
			}
			if ms == nil {
				ms = e.multis(r)
			}
			if vals := ms[name]; len(vals) > 0 {
				m[name] = renderMultis(vals, name)
			}
		}
	}
	return m
}

func renderMultis(vals []Multi, typeID string) []any {
	out := make([]any, len(vals))
	for i, v := range vals {
		out[i] = map[string]any{
			"ID":         strconv.Itoa(v.ID),
			"VALUE_TYPE": v.ValueType,
			"VALUE":      v.Value,
			"TYPE_ID":    typeID,
		}
	}
	return out
}

// values returns what a filter on field tests; ok=false for unknown fields
// (the legacy filter ignores those).
func (e *entity[T]) values(r *T, field string) ([]string, fieldKind, bool) {
	if i, ok := e.byName[field]; ok {
		f := e.fields[i]
		if f.filter != nil {
			return f.filter(r), f.kind, true
		}
		s, _ := asString(f.get(r))
		return []string{s}, f.kind, true
	}
	if e.multis != nil && isMultiField(field) {
		var out []string
		for _, m := range e.multis(r)[field] {
			out = append(out, m.Value)
		}
		return out, kString, true
	}
	if strings.HasPrefix(field, "UF_") && e.extra != nil {
		s, _ := asString(e.extra(r)[field])
		return []string{s}, kString, true
	}
	return nil, kString, false
}

func (e *entity[T]) matches(r *T, conds []cond) bool {
	for _, c := range conds {
		vals, kind, known := e.values(r, c.field)
		if !known {
			continue
		}
		if !matchValues(vals, kind, c) {
			return false
		}
	}
	return true
}

// listQuery is a parsed crm.*.list request.
type listQuery struct {
	conds   []cond
	orderBy string
	desc    bool
	start   int
	counted bool // false for start=-1: no total, no next
	sel     selection
	lo, hi  int   // ID range [lo, hi)
	cands   []int // candidate ids from an index (nil = all)
}

func parseListQuery(in params) listQuery {
	q := listQuery{orderBy: "ID", counted: true, hi: math.MaxInt}
	fv, _ := in.get("filter")
	fm, _ := asMap(fv)
	conds := parseFilter(fm)
	// ID conditions narrow the scanned range instead of being tested.
	for _, c := range conds {
		if c.field == "ID" && len(c.values) == 1 {
			if n, err := strconv.Atoi(strings.TrimSpace(c.values[0])); err == nil {
				switch c.op {
				case ">":
					q.lo = max(q.lo, n+1)
					continue
				case ">=":
					q.lo = max(q.lo, n)
					continue
				case "<":
					q.hi = min(q.hi, n)
					continue
				case "<=":
					q.hi = min(q.hi, n+1)
					continue
				case "=", "in":
					q.lo, q.hi = max(q.lo, n), min(q.hi, n+1)
					continue
				}
			}
		}
		q.conds = append(q.conds, c)
	}
	ov, _ := in.get("order")
	if om, ok := asMap(ov); ok && len(om) > 0 {
		keys := make([]string, 0, len(om))
		for k := range om {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		// One sort key is supported: the first non-ID key wins, ID breaks ties.
		chosen := ""
		for _, k := range keys {
			if !strings.EqualFold(k, "ID") {
				chosen = k
				break
			}
		}
		if chosen == "" {
			chosen = keys[0]
		}
		q.orderBy = strings.ToUpper(chosen)
		dir, _ := asString(om[chosen])
		q.desc = strings.EqualFold(strings.TrimSpace(dir), "DESC")
	}
	sv, _ := in.get("select")
	q.sel = parseSelect(sv)
	if n, ok := in.int("start"); ok {
		if n < 0 {
			q.counted = false
		} else {
			q.start = n
		}
	}
	return q
}

// list runs a list query over a table.
func (e *entity[T]) list(t *table[T], q listQuery) (*restResult, *apiError) {
	lo := sort.SearchInts(t.ids, q.lo)
	hi := len(t.ids)
	if q.hi != math.MaxInt {
		hi = sort.SearchInts(t.ids, q.hi)
	}
	if hi < lo {
		hi = lo
	}
	var page []*T
	total := 0
	switch {
	case q.orderBy == "ID" && q.cands == nil && len(q.conds) == 0:
		// Pure ID range: total and page by index arithmetic.
		total = hi - lo
		for k := q.start; k < total && len(page) < PageSize; k++ {
			i := lo + k
			if q.desc {
				i = hi - 1 - k
			}
			page = append(page, t.recs[i])
		}
	case q.orderBy == "ID":
		// Scan in ID order; stop early when nothing more is needed.
		visit := func(r *T) bool {
			if !e.matches(r, q.conds) {
				return true
			}
			total++
			if total > q.start && len(page) < PageSize {
				page = append(page, r)
			}
			return q.counted || len(page) < PageSize
		}
		e.scan(t, q, lo, hi, visit)
	default:
		var all []*T
		e.scan(t, q, lo, hi, func(r *T) bool {
			if e.matches(r, q.conds) {
				all = append(all, r)
			}
			return true
		})
		e.sortBy(all, q.orderBy, q.desc)
		total = len(all)
		for k := q.start; k < total && len(page) < PageSize; k++ {
			page = append(page, all[k])
		}
	}
	out := make([]any, len(page))
	for i, r := range page {
		out[i] = e.render(r, q.sel)
	}
	next := 0
	if q.counted && q.start+PageSize < total {
		next = q.start + PageSize
	}
	return listResult(out, total, next, q.counted)
}

// scan visits records of positions [lo, hi) (or the candidates within them)
// in ID order, descending for ORDER ID DESC; visit returns false to stop.
func (e *entity[T]) scan(t *table[T], q listQuery, lo, hi int, visit func(*T) bool) {
	desc := q.desc && q.orderBy == "ID"
	if q.cands != nil {
		n := len(q.cands)
		for k := 0; k < n; k++ {
			id := q.cands[k]
			if desc {
				id = q.cands[n-1-k]
			}
			if id < q.lo || id >= q.hi {
				continue
			}
			if r := t.get(id); r != nil && !visit(r) {
				return
			}
		}
		return
	}
	if desc {
		for i := hi - 1; i >= lo; i-- {
			if !visit(t.recs[i]) {
				return
			}
		}
		return
	}
	for i := lo; i < hi; i++ {
		if !visit(t.recs[i]) {
			return
		}
	}
}

func (e *entity[T]) sortBy(recs []*T, field string, desc bool) {
	i, known := e.byName[field]
	if !known {
		return // unknown order fields are ignored: ID order stays
	}
	f := e.fields[i]
	keys := make(map[*T]string, len(recs))
	for _, r := range recs {
		s, _ := asString(f.get(r))
		keys[r] = s
	}
	sort.SliceStable(recs, func(a, b int) bool {
		c, _ := compareValues(keys[recs[a]], keys[recs[b]], f.kind)
		if c == 0 {
			return e.id(recs[a]) < e.id(recs[b])
		}
		if desc {
			return c > 0
		}
		return c < 0
	})
}

// commIndex maps a normalized phone or e-mail to contact and lead ids, for
// crm.duplicate.findbycomm.
type commIndex map[string]*commOwners

type commOwners struct{ contacts, leads []int }

func (ix commIndex) add(key string, contact bool, id int) {
	if key == "" {
		return
	}
	o := ix[key]
	if o == nil {
		o = &commOwners{}
		ix[key] = o
	}
	list := &o.leads
	if contact {
		list = &o.contacts
	}
	i := sort.SearchInts(*list, id)
	if i < len(*list) && (*list)[i] == id {
		return
	}
	*list = append(*list, 0)
	copy((*list)[i+1:], (*list)[i:])
	(*list)[i] = id
}

func (ix commIndex) remove(key string, contact bool, id int) {
	o := ix[key]
	if o == nil {
		return
	}
	list := &o.leads
	if contact {
		list = &o.contacts
	}
	if i := sort.SearchInts(*list, id); i < len(*list) && (*list)[i] == id {
		*list = append((*list)[:i], (*list)[i+1:]...)
	}
	if len(o.contacts) == 0 && len(o.leads) == 0 {
		delete(ix, key)
	}
}

func normEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// indexComms adds or removes an owner's phones and e-mails.
func (p *Portal) indexComms(contact bool, id int, phones, emails []Multi, add bool) {
	for _, m := range phones {
		if add {
			p.phoneIdx.add(digitsOnly(m.Value), contact, id)
		} else {
			p.phoneIdx.remove(digitsOnly(m.Value), contact, id)
		}
	}
	for _, m := range emails {
		if add {
			p.emailIdx.add(normEmail(m.Value), contact, id)
		} else {
			p.emailIdx.remove(normEmail(m.Value), contact, id)
		}
	}
}

// prepareMultis assigns ids and TYPE_ID to multifield values being stored.
func (p *Portal) prepareMultis(vals []Multi, typeID string) []Multi {
	out := make([]Multi, 0, len(vals))
	for _, v := range vals {
		if v.ID == 0 {
			v.ID = p.nextMulti
			p.nextMulti++
		} else if v.ID >= p.nextMulti {
			p.nextMulti = v.ID + 1
		}
		v.TypeID = typeID
		if v.ValueType == "" {
			v.ValueType = "WORK"
		}
		out = append(out, v)
	}
	return out
}

// applyMultiUpdate merges a REST multifield value list into existing values:
// entries with ID update (or delete, with DELETE=Y or an empty VALUE) that
// value, entries without ID are added.
func (p *Portal) applyMultiUpdate(existing []Multi, v any, typeID string) []Multi {
	out := append([]Multi(nil), existing...)
	for _, item := range asList(v) {
		m, ok := asMap(item)
		if !ok {
			continue
		}
		ip := params(m)
		value := strings.TrimSpace(ip.str("VALUE"))
		valueType := strings.ToUpper(ip.str("VALUE_TYPE"))
		id, hasID := ip.int("ID")
		del := asBool(ip.str("DELETE"))
		if hasID && id > 0 {
			for i := range out {
				if out[i].ID != id {
					continue
				}
				if del || value == "" {
					out = append(out[:i], out[i+1:]...)
				} else {
					out[i].Value = value
					if valueType != "" {
						out[i].ValueType = valueType
					}
				}
				break
			}
			continue
		}
		if value == "" || del {
			continue
		}
		out = append(out, Multi{ValueType: valueType, Value: value})
	}
	return p.prepareMultis(out, typeID)
}

// crmID reads the ID parameter of get/update/delete.
func crmID(in params) (int, *apiError) {
	id, ok := in.int("ID")
	if !ok || id <= 0 {
		return 0, errCRM("ID is not defined or invalid.")
	}
	return id, nil
}

// crmFields reads the fields parameter of add/update.
func crmFields(in params) (params, *apiError) {
	v, ok := in.get("fields")
	if !ok {
		return nil, errCRM("The parameter 'fields' must be array.")
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		return nil, errCRM("The parameter 'fields' must be array.")
	}
	out := params{}
	for k, v := range m {
		out[strings.ToUpper(k)] = v
	}
	return out, nil
}

// storeExtra keeps a REST-written field the emulator has no column for;
// the map is allocated on first use (most records never need one).
func storeExtra(extra *map[string]any, name string, v any) {
	if *extra == nil {
		*extra = map[string]any{}
	}
	switch t := v.(type) {
	case []any, map[string]any:
		(*extra)[name] = t
	default:
		s, ok := asString(v)
		if !ok || s == "" {
			(*extra)[name] = nil
			return
		}
		(*extra)[name] = s
	}
}

func extraGet(extra map[string]any, name string, def any) any {
	if v, ok := extra[name]; ok {
		return v
	}
	return def
}
