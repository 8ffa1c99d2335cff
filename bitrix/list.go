package bitrix

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// PageSize is the portal's fixed page of a list method.
const PageSize = 50

// ListSpec describes a full listing of a crm.*.list-style method.
type ListSpec struct {
	Method string   // e.g. crm.contact.list
	Select []string // fields; multifields (PHONE, IM) must be named
	Filter Params   // extra filter, e.g. {">=DATE_MODIFY": "..."}
	After  int64    // list records with ID > After
	// OnTotal, when set, is told the record count the portal reports for the
	// filter (the first page counts, so it costs no request).
	OnTotal func(total int)
}

// ListStats says what a listing cost.
type ListStats struct {
	Requests int // HTTP requests (batches)
	Commands int // REST methods the portal ran
	Items    int
}

// ListAll reads every record of spec.Method in ID order with the documented
// fast technique (bitrix24.md §d): order by ID, filter ID > last seen,
// start=-1 so the portal counts nothing, and 50 such pages chained inside one
// batch through $result references. A batch therefore returns up to 2 500
// records for one request, and the number of requests is the minimum,
// ceil(N/2500). Only the very first page counts (start=0), which tells the
// total for progress and sizes the last batch. fn gets the items of each
// request (up to 2 500) in ID order; returning an error stops.
func (c *Client) ListAll(ctx context.Context, spec ListSpec, fn func(items []json.RawMessage) error) (ListStats, error) {
	var st ListStats
	last := spec.After
	remaining := -1 // unknown until the first batch counts
	failures := 0
	for {
		cmds := make([]Command, 0, MaxBatch)
		pages := MaxBatch
		if remaining >= 0 {
			pages = min(pages, (remaining+PageSize-1)/PageSize)
		}
		for i := 0; i < pages; i++ {
			params := Params{"order": map[string]any{"ID": "ASC"}, "start": -1}
			if len(spec.Select) > 0 {
				params["select"] = spec.Select
			}
			cmd := Command{Key: "p" + strconv.Itoa(i), Method: spec.Method, Params: params}
			if i == 0 && remaining < 0 {
				// The very first page counts the records (once): the portal
				// reports it as result_total, at no extra command.
				params["start"] = 0
			}
			if i == 0 {
				params["filter"] = c.filterAfter(spec.Filter, last)
			} else {
				// The previous page's last ID, substituted by the portal.
				if len(spec.Filter) > 0 {
					params["filter"] = spec.Filter
				}
				cmd.Raw = "filter%5B%3EID%5D=$result[p" + strconv.Itoa(i-1) + "][" + strconv.Itoa(PageSize-1) + "][ID]"
			}
			cmds = append(cmds, cmd)
		}
		res, err := c.Batch(ctx, cmds, false)
		if err != nil {
			return st, fmt.Errorf("listing %s: %w", spec.Method, err)
		}
		st.Requests++
		st.Commands += len(cmds)
		if remaining < 0 {
			if e := res.Errors["p0"]; e != nil {
				return st, fmt.Errorf("listing %s: %w", spec.Method, e)
			}
			remaining = res.Total["p0"]
			if spec.OnTotal != nil {
				spec.OnTotal(remaining)
			}
		}
		done := false
		var batch []json.RawMessage
		for i := 0; i < pages; i++ {
			key := "p" + strconv.Itoa(i)
			if e := res.Errors[key]; e != nil {
				// Pages after the end fail on their unresolvable reference;
				// before the end a failure is real: resume from the last ID.
				if i == 0 {
					failures++
					if failures > 3 {
						return st, fmt.Errorf("listing %s after ID %d: %w", spec.Method, last, e)
					}
				}
				break
			}
			var items []json.RawMessage
			if err := json.Unmarshal(res.Result[key], &items); err != nil {
				return st, fmt.Errorf("listing %s: decoding page: %w", spec.Method, err)
			}
			if len(items) > 0 {
				id, err := lastID(items)
				if err != nil {
					return st, fmt.Errorf("listing %s: %w", spec.Method, err)
				}
				if id <= last {
					// A reference the portal could not resolve restarted the
					// listing; everything from here is a repeat.
					break
				}
				last = id
				st.Items += len(items)
				remaining -= len(items)
				batch = append(batch, items...)
			}
			if len(items) < PageSize {
				done = true
				break
			}
		}
		if len(batch) > 0 {
			if err := fn(batch); err != nil {
				return st, err
			}
		}
		if done || remaining <= 0 {
			return st, nil
		}
	}
}

func (c *Client) filterAfter(filter Params, after int64) Params {
	f := make(Params, len(filter)+1)
	for k, v := range filter {
		f[k] = v
	}
	f[">ID"] = after
	return f
}

// lastID is the ID of the last item of a page whose ID can be read: one
// malformed record must not stop the listing (its reader skips it).
func lastID(items []json.RawMessage) (int64, error) {
	var err error
	for i := len(items) - 1; i >= 0; i-- {
		var id int64
		if id, err = itemID(items[i]); err == nil {
			return id, nil
		}
	}
	return 0, fmt.Errorf("no item of the page has a readable ID: %w", err)
}

// itemID reads the ID of a list item; the portal sends it as a string in
// legacy methods and as a number elsewhere.
func itemID(item json.RawMessage) (int64, error) {
	var v struct {
		ID json.RawMessage `json:"ID"`
	}
	if err := json.Unmarshal(item, &v); err != nil {
		return 0, fmt.Errorf("item without ID: %w", err)
	}
	s := strings.Trim(string(v.ID), `"`)
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("item ID %s: %w", v.ID, err)
	}
	return id, nil
}

// ListPaged reads a small list method that has no ID filter technique
// (user.get, department.get) by offset, packing the pages after the first into
// batches. params are the method's own (filter, sort).
func (c *Client) ListPaged(ctx context.Context, method string, params Params, fn func(items []json.RawMessage) error) (ListStats, error) {
	var st ListStats
	first, err := c.Do(ctx, method, withStart(params, 0))
	if err != nil {
		return st, fmt.Errorf("listing %s: %w", method, err)
	}
	st.Requests++
	st.Commands++
	var items []json.RawMessage
	if err := json.Unmarshal(first.Result, &items); err != nil {
		return st, fmt.Errorf("listing %s: decoding page: %w", method, err)
	}
	st.Items += len(items)
	if err := fn(items); err != nil {
		return st, err
	}
	if first.Next == nil || first.Total == nil {
		return st, nil
	}
	var starts []int
	for s := *first.Next; s < *first.Total; s += PageSize {
		starts = append(starts, s)
	}
	for len(starts) > 0 {
		n := min(len(starts), MaxBatch)
		cmds := make([]Command, n)
		for i, s := range starts[:n] {
			cmds[i] = Command{Key: "s" + strconv.Itoa(s), Method: method, Params: withStart(params, s)}
		}
		res, err := c.Batch(ctx, cmds, false)
		if err != nil {
			return st, fmt.Errorf("listing %s: %w", method, err)
		}
		st.Requests++
		st.Commands += n
		for _, cmd := range cmds {
			if e := res.Errors[cmd.Key]; e != nil {
				return st, fmt.Errorf("listing %s: %w", method, e)
			}
			var items []json.RawMessage
			if err := json.Unmarshal(res.Result[cmd.Key], &items); err != nil {
				return st, fmt.Errorf("listing %s: decoding page: %w", method, err)
			}
			st.Items += len(items)
			if err := fn(items); err != nil {
				return st, err
			}
		}
		starts = starts[n:]
	}
	return st, nil
}

func withStart(params Params, start int) Params {
	p := make(Params, len(params)+1)
	for k, v := range params {
		p[k] = v
	}
	p["start"] = start
	return p
}
