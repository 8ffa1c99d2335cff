// Package stream delivers live events (new messages, status changes,
// re-sorted dialogs) to the browsers' event streams. Events travel through
// PostgreSQL LISTEN/NOTIFY, so an event raised by any relay24 instance reaches
// the browsers connected to every other one behind the load balancer; each
// subscriber only hears of dialogs its access rules show.
package stream

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/lib/pq"

	"github.com/relay24/relay24/store"
)

// Event is one delivered event.
type Event struct {
	Type string
	Data []byte // JSON with dialog_id
}

// Subscriber is one open event stream.
type Subscriber struct {
	PortalID int64
	UserID   int64
	// Allowed decides whether the user may hear of a dialog; it is called
	// with the dialog as stored when the event arrives.
	Allowed func(ctx context.Context, d *store.Dialog) bool
	// Invalidate is called when the portal's access rules changed, so a
	// cached rule is reloaded before the next event.
	Invalidate func()
	C          chan Event
	dropped    bool
}

// Hub fans events out to the subscribers of their portal.
type Hub struct {
	store *store.Store
	log   *slog.Logger
	url   string

	mu   sync.RWMutex
	subs map[int64]map[*Subscriber]struct{}

	// OnAccessChanged is told when any instance changed a portal's access
	// rules (caches elsewhere drop them).
	OnAccessChanged func(portalID int64)

	ending  chan struct{}
	endOnce sync.Once
}

// New makes a hub listening on the database at url.
func New(st *store.Store, url string, log *slog.Logger) *Hub {
	return &Hub{store: st, url: url, log: log, subs: map[int64]map[*Subscriber]struct{}{}, ending: make(chan struct{})}
}

// Ending is closed once EndStreams was called: every open stream ends (its
// browser reconnects, to another instance), so a graceful shutdown does not
// wait on streams that never end by themselves.
func (h *Hub) Ending() <-chan struct{} { return h.ending }

// EndStreams asks every open stream to end; the HTTP server calls it when it
// starts shutting down.
func (h *Hub) EndStreams() { h.endOnce.Do(func() { close(h.ending) }) }

// Subscribe adds a stream; Unsubscribe must follow.
func (h *Hub) Subscribe(s *Subscriber) {
	if s.C == nil {
		s.C = make(chan Event, 64)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.subs[s.PortalID]
	if m == nil {
		m = map[*Subscriber]struct{}{}
		h.subs[s.PortalID] = m
	}
	m[s] = struct{}{}
}

// Unsubscribe removes a stream.
func (h *Hub) Unsubscribe(s *Subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if m := h.subs[s.PortalID]; m != nil {
		delete(m, s)
		if len(m) == 0 {
			delete(h.subs, s.PortalID)
		}
	}
}

// Count is how many streams are open (metrics).
func (h *Hub) Count() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for _, m := range h.subs {
		n += len(m)
	}
	return n
}

// Run listens until ctx ends, reconnecting as lib/pq's listener does.
func (h *Hub) Run(ctx context.Context) error {
	l := pq.NewListener(h.url, 100*time.Millisecond, 10*time.Second, func(ev pq.ListenerEventType, err error) {
		if err != nil {
			h.log.Warn("event listener", slog.String("error", err.Error()))
		}
	})
	defer l.Close()
	if err := l.Listen(store.EventChannel); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case n := <-l.Notify:
			if n == nil {
				continue // reconnected: events in the gap are lost; browsers resync on reconnect
			}
			var e store.Event
			if err := json.Unmarshal([]byte(n.Extra), &e); err != nil {
				continue
			}
			h.dispatch(ctx, e)
		case <-time.After(time.Minute):
			go l.Ping()
		}
	}
}

// dispatch reads the event's dialog once and offers it to each subscriber of
// the portal whose rules show it. A subscriber too slow to keep up is dropped
// (its browser reconnects and reloads) rather than slowing everyone.
func (h *Hub) dispatch(ctx context.Context, e store.Event) {
	h.mu.RLock()
	subs := make([]*Subscriber, 0, len(h.subs[e.PortalID]))
	for s := range h.subs[e.PortalID] {
		subs = append(subs, s)
	}
	h.mu.RUnlock()
	if e.Type == "access.changed" && h.OnAccessChanged != nil {
		h.OnAccessChanged(e.PortalID)
	}
	if len(subs) == 0 {
		return
	}
	if e.Type == "access.changed" {
		// Reload each stream's rule, and tell the pages to reload their
		// lists: what a user sees may have changed under him.
		for _, s := range subs {
			if s.Invalidate != nil {
				s.Invalidate()
			}
			select {
			case s.C <- Event{Type: e.Type, Data: []byte("{}")}:
			default:
			}
		}
		return
	}
	var d *store.Dialog
	if e.DialogID > 0 {
		var err error
		if d, err = h.store.DialogByID(ctx, e.PortalID, e.DialogID); err != nil {
			return
		}
	}
	payload := map[string]any{"dialog_id": e.DialogID}
	if e.MessageID > 0 {
		payload["message_id"] = e.MessageID
	}
	if d != nil {
		payload["unanswered"] = d.Unanswered
	}
	data, _ := json.Marshal(payload)
	ev := Event{Type: e.Type, Data: data}
	for _, s := range subs {
		if d != nil && s.Allowed != nil && !s.Allowed(ctx, d) {
			continue
		}
		select {
		case s.C <- ev:
		default:
			h.mu.Lock()
			if !s.dropped {
				s.dropped = true
				close(s.C)
			}
			h.mu.Unlock()
			h.Unsubscribe(s)
		}
	}
}
