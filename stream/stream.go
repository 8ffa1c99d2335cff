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
	// Render, when set, makes the event's data for this stream from the
	// snapshot the hub read once for every stream of the portal (the
	// changed dialog row and message as this user may see them); it must
	// not query the database. Without it the data is Snapshot.Base.
	Render func(ctx context.Context, snap *Snapshot) []byte
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

// Snapshot is what the hub read for one event, once for every stream of
// the portal: the dialog as the chat lists it and, for a message event, the
// message. Renderings are shared through Memo, so streams that would see the
// same JSON (same language, same rights) share one encoding.
type Snapshot struct {
	Event   store.Event
	Dialog  *store.DialogView  // nil when the event names no dialog
	Message *store.MessageView // nil when the event names none, or it is gone
	memo    map[string][]byte
}

// Base is the event's data without the rows: dialog_id, and message_id and
// unanswered when known.
func (s *Snapshot) Base() map[string]any {
	p := map[string]any{"dialog_id": s.Event.DialogID}
	if s.Event.MessageID > 0 {
		p["message_id"] = s.Event.MessageID
	}
	if s.Dialog != nil {
		p["unanswered"] = s.Dialog.Unanswered
	}
	return p
}

// Memo returns the rendering stored under key, making it with render the
// first time (the hub dispatches one event at a time, so no lock).
func (s *Snapshot) Memo(key string, render func() []byte) []byte {
	if b, ok := s.memo[key]; ok {
		return b
	}
	if s.memo == nil {
		s.memo = map[string][]byte{}
	}
	b := render()
	s.memo[key] = b
	return b
}

// dispatch reads the event's dialog (and message) once and offers it to each
// subscriber of the portal whose rules show it: at most two queries per
// event, however many streams are open. A subscriber too slow to keep up is
// dropped (its browser reconnects and reloads) rather than slowing everyone.
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
	snap := &Snapshot{Event: e}
	if e.DialogID > 0 {
		v, err := h.store.DialogView(ctx, e.PortalID, e.DialogID)
		if err != nil {
			return
		}
		snap.Dialog = v
	}
	to := subs[:0]
	render := false
	for _, s := range subs {
		if snap.Dialog != nil && s.Allowed != nil && !s.Allowed(ctx, &snap.Dialog.Dialog) {
			continue
		}
		to = append(to, s)
		render = render || s.Render != nil
	}
	if len(to) == 0 {
		return
	}
	if e.MessageID > 0 && snap.Dialog != nil && render {
		// A message gone since (or of another dialog) is left out; the
		// page still gets the row.
		if m, err := h.store.MessageViewByID(ctx, e.PortalID, e.MessageID); err == nil && m.DialogID == e.DialogID {
			snap.Message = m
		}
	}
	var base []byte
	for _, s := range to {
		var data []byte
		if s.Render != nil {
			data = s.Render(ctx, snap)
		}
		if data == nil {
			if base == nil {
				base, _ = json.Marshal(snap.Base())
			}
			data = base
		}
		select {
		case s.C <- Event{Type: e.Type, Data: data}:
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
