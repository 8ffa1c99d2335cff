package b24test

import (
	"net/http"
	"strings"
)

// PageFault makes commands of one method inside batches misbehave: the
// Nth such command the portal runs after SetPageFault, and the Count-1
// after it. It reaches what a whole-request Fault cannot: one page of a
// listing that chains its pages inside a batch (bitrix24.md §d).
type PageFault struct {
	Method string // e.g. "crm.contact.list" (case-insensitive)
	Nth    int    // 1-based; 0 means 1
	Count  int    // 0 means 1; negative means every command from the Nth on
	// Unresolved, instead of an error, runs the command with its $result
	// references unresolved. The real portal leaves such a reference's text
	// in place (ASSUMPTIONS.md), and the legacy list filter reads text in an
	// integer field as PHP's intval does: 0. So a page chained by
	// filter[>ID]=$result[pN][49][ID] lists from the start again.
	Unresolved bool
	// The error the command fails with, in result_error; default 500
	// INTERNAL_SERVER_ERROR "Internal server error".
	Status     int
	Code, Desc string
}

type pageFaultState struct {
	f    PageFault
	seen int // commands of the method run since the fault was set
}

// SetPageFault installs f (nil clears it).
func (p *Portal) SetPageFault(f *PageFault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f == nil {
		p.pageFault = nil
		return
	}
	c := *f
	c.Method = strings.ToLower(strings.TrimSpace(c.Method))
	if c.Nth <= 0 {
		c.Nth = 1
	}
	if c.Count == 0 {
		c.Count = 1
	}
	if c.Status == 0 {
		c.Status, c.Code, c.Desc = http.StatusInternalServerError, "INTERNAL_SERVER_ERROR", "Internal server error"
	}
	p.pageFault = &pageFaultState{f: c}
}

// applyPageFault is the fault's verdict on one batch command before its
// references are resolved: an error for the command, or its references
// replaced by what the portal reads them as (Unresolved).
func (p *Portal) applyPageFault(method string, sub params) *apiError {
	p.mu.Lock()
	fs := p.pageFault
	hit := false
	if fs != nil && fs.f.Method == method {
		fs.seen++
		hit = fs.seen >= fs.f.Nth && (fs.f.Count < 0 || fs.seen < fs.f.Nth+fs.f.Count)
	}
	var f PageFault
	if hit {
		f = fs.f
	}
	p.mu.Unlock()
	if !hit {
		return nil
	}
	if !f.Unresolved {
		return errCode(f.Status, f.Code, f.Desc)
	}
	intvalReferences(sub)
	return nil
}

// intvalReferences replaces every string value holding a $result reference
// with "0": the text the portal left in place, read as an integer.
func intvalReferences(in params) {
	var walk func(v any) any
	walk = func(v any) any {
		switch t := v.(type) {
		case string:
			if strings.Contains(t, "$result") {
				return "0"
			}
		case map[string]any:
			for k, e := range t {
				t[k] = walk(e)
			}
		case []any:
			for i, e := range t {
				t[i] = walk(e)
			}
		}
		return v
	}
	for k, v := range in {
		in[k] = walk(v)
	}
}
