package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/relay24/relay24/access"
	"github.com/relay24/relay24/store"
	"github.com/relay24/relay24/stream"
)

// keepAlive keeps proxies from closing an idle stream.
const keepAlive = 25 * time.Second

// eventStream is the live event stream (text/event-stream). The caller's access
// rule is cached for the stream and reloaded when an admin changes rules.
func (h *Handlers) eventStream(c echo.Context) error {
	cl := caller(c)
	ctx := c.Request().Context()
	var mu sync.Mutex
	var rule *access.Effective
	load := func(ctx context.Context) *access.Effective {
		mu.Lock()
		defer mu.Unlock()
		if rule == nil {
			if u, err := h.Store.UserByID(ctx, cl.Portal.ID, cl.User.ID); err == nil {
				rule, _ = h.Access.For(ctx, cl.Portal.ID, u)
			}
		}
		return rule
	}
	if load(ctx) == nil {
		return fmt.Errorf("loading access rules for the stream")
	}
	sub := &stream.Subscriber{
		PortalID: cl.Portal.ID, UserID: cl.User.ID,
		Allowed: func(ctx context.Context, d *store.Dialog) bool {
			r := load(ctx)
			return r != nil && r.Sees(d)
		},
		// The event carries the row and the message as this user sees them:
		// the hub read them once for every stream; his part (language,
		// can_write) comes from the cached rule, so rendering queries nothing.
		Render: func(ctx context.Context, snap *stream.Snapshot) []byte {
			if snap.Dialog == nil {
				return nil
			}
			r := load(ctx)
			canWrite := canWrite(r, snap.Dialog)
			lang := cl.lang()
			return snap.Memo(lang+"|"+strconv.FormatBool(canWrite), func() []byte {
				p := snap.Base()
				p["dialog"] = dialogJSON(snap.Dialog, lang, r)
				p["can_write"] = canWrite
				if snap.Message != nil {
					p["message"] = h.messageJSON(snap.Message, lang, true)
				}
				b, _ := json.Marshal(p)
				return b
			})
		},
		Invalidate: func() { mu.Lock(); rule = nil; mu.Unlock() },
	}
	h.Stream.Subscribe(sub)
	defer h.Stream.Unsubscribe(sub)

	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "retry: 3000\nevent: ready\ndata: {}\n\n")
	w.Flush()
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-h.Stream.Ending():
			return nil // shutting down: the browser reconnects (retry)
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return nil
			}
			w.Flush()
		case ev, ok := <-sub.C:
			if !ok {
				return nil // too slow: the browser reconnects and reloads
			}
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.Type, ev.Data); err != nil {
				return nil
			}
			w.Flush()
		}
	}
}
