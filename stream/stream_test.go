package stream_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"

	"github.com/relay24/relay24/store"
	"github.com/relay24/relay24/store/storetest"
	"github.com/relay24/relay24/stream"
)

const deadline = 15 * time.Second

type bench struct {
	t   *testing.T
	ctx context.Context
	db  *sqlx.DB
	s   *store.Store
	hub *stream.Hub
	seq int
}

// newBench starts a hub on a fresh database and waits until it listens.
func newBench(t *testing.T, onAccess func(int64)) *bench {
	t.Helper()
	url := storetest.URL(t)
	db, err := sqlx.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	b := &bench{t: t, ctx: ctx, db: db, s: store.New(db)}
	b.hub = stream.New(b.s, url, slog.New(slog.DiscardHandler))
	b.hub.OnAccessChanged = onAccess
	done := make(chan struct{})
	go func() { defer close(done); _ = b.hub.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	// The listener is up once a probe, repeated until then, comes through.
	probe := &stream.Subscriber{PortalID: -1}
	b.hub.Subscribe(probe)
	defer b.hub.Unsubscribe(probe)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(deadline)
	for {
		b.notify(store.Event{PortalID: -1, Type: "probe"})
		select {
		case <-probe.C:
			return b
		case <-tick.C:
		case <-timeout:
			t.Fatal("the hub never started listening")
		}
	}
}

func (b *bench) notify(events ...store.Event) {
	b.t.Helper()
	if err := b.s.Notify(b.ctx, events...); err != nil {
		b.t.Fatal(err)
	}
}

func (b *bench) portal(member string) int64 {
	b.t.Helper()
	p, err := b.s.UpsertInstall(b.ctx, store.Install{MemberID: member, Domain: member + ".example", ClientEndpoint: "https://" + member + ".example/rest/",
		TokenExpiresAt: time.Now().Add(time.Hour), AccessToken: func(int64) []byte { return []byte("a") }, RefreshToken: func(int64) []byte { return []byte("r") }})
	if err != nil {
		b.t.Fatal(err)
	}
	return p.ID
}

// dialog opens a dialog; waiting gives it an unanswered client message.
func (b *bench) dialog(portal int64, waiting bool) *store.Dialog {
	b.t.Helper()
	b.seq++
	g := &store.Gateway{PortalID: portal, Provider: "telegram", Credentials: []byte("x"), WebhookKey: []byte{byte(b.seq)}, State: "active"}
	if err := b.s.CreateGateway(b.ctx, g); err != nil {
		b.t.Fatal(err)
	}
	ch := &store.Channel{PortalID: portal, GatewayID: g.ID, ExternalID: "bot", Provider: "telegram", Transport: "telegram", State: "active"}
	if err := b.s.UpsertChannel(b.ctx, ch); err != nil {
		b.t.Fatal(err)
	}
	var d *store.Dialog
	err := b.s.Tx(b.ctx, func(tx *store.Store) error {
		var err error
		if d, _, err = tx.UpsertDialog(b.ctx, portal, store.DialogKey{ChannelID: ch.ID, ChatType: "telegram", ChatID: "42"}, store.ClientInfo{}); err != nil {
			return err
		}
		if waiting {
			if _, _, err = tx.InsertMessage(b.ctx, &store.Message{PortalID: portal, DialogID: d.ID, ChannelID: ch.ID, Direction: "in",
				Kind: "text", Text: "hi", Status: "inbound", SentAt: time.Now()}); err != nil {
				return err
			}
			d, err = tx.RecomputeDialog(b.ctx, d.ID)
		}
		return err
	})
	if err != nil {
		b.t.Fatal(err)
	}
	return d
}

type payload struct {
	DialogID   int64 `json:"dialog_id"`
	MessageID  int64 `json:"message_id"`
	Unanswered *bool `json:"unanswered"`
}

// next is the subscriber's next event; the hub dispatches in NOTIFY order,
// so a fence event sent last proves that nothing before it was delivered.
func next(t *testing.T, s *stream.Subscriber, who string) (stream.Event, payload) {
	t.Helper()
	select {
	case e, ok := <-s.C:
		if !ok {
			t.Fatalf("%s: the stream was closed", who)
		}
		var p payload
		if err := json.Unmarshal(e.Data, &p); err != nil {
			t.Fatalf("%s: event data %q: %v", who, e.Data, err)
		}
		return e, p
	case <-time.After(deadline):
		t.Fatalf("%s: no event", who)
	}
	panic("unreachable")
}

// Each subscriber hears only of its own portal's dialogs that its access
// rule shows, read once as stored when the event arrives; an event naming a
// dialog the portal does not have reaches nobody.
func TestHubFiltersByPortalAndAccess(t *testing.T) {
	b := newBench(t, nil)
	pa, pb := b.portal("a"), b.portal("b")
	hidden, shown := b.dialog(pa, true), b.dialog(pa, false)
	theirs := b.dialog(pb, true)
	allowed := func(except int64) func(context.Context, *store.Dialog) bool {
		return func(_ context.Context, d *store.Dialog) bool { return d.ID != except }
	}
	all := &stream.Subscriber{PortalID: pa, UserID: 1, Allowed: allowed(0)}
	some := &stream.Subscriber{PortalID: pa, UserID: 2, Allowed: allowed(hidden.ID)}
	other := &stream.Subscriber{PortalID: pb, UserID: 1, Allowed: allowed(0)}
	for _, s := range []*stream.Subscriber{all, some, other} {
		b.hub.Subscribe(s)
		defer b.hub.Unsubscribe(s)
	}
	if n := b.hub.Count(); n != 3 {
		t.Fatalf("Count = %d, want 3", n)
	}
	b.notify(
		store.Event{PortalID: pa, Type: "message.created", DialogID: hidden.ID, MessageID: 77},
		store.Event{PortalID: pa, Type: "dialog.updated", DialogID: theirs.ID}, // B's dialog under A's id
		store.Event{PortalID: pa, Type: "dialog.updated", DialogID: 1 << 40},   // no such dialog
		store.Event{PortalID: pa, Type: "dialog.updated", DialogID: shown.ID},  // the fence
		store.Event{PortalID: pb, Type: "message.updated", DialogID: theirs.ID, MessageID: 5},
	)

	e, p := next(t, all, "all")
	if e.Type != "message.created" || p.DialogID != hidden.ID || p.MessageID != 77 || p.Unanswered == nil || !*p.Unanswered {
		t.Errorf("all: first event %s %+v, want message.created of the waiting dialog with its message", e.Type, p)
	}
	e, p = next(t, all, "all")
	if e.Type != "dialog.updated" || p.DialogID != shown.ID || p.Unanswered == nil || *p.Unanswered || p.MessageID != 0 {
		t.Errorf("all: second event %s %+v, want the fence (another portal's and an unknown dialog dropped)", e.Type, p)
	}
	if e, p = next(t, some, "some"); p.DialogID != shown.ID {
		t.Errorf("some: first event %s %+v, want the fence (the hidden dialog's event withheld)", e.Type, p)
	}
	if e, p = next(t, other, "other"); e.Type != "message.updated" || p.DialogID != theirs.ID || p.MessageID != 5 {
		t.Errorf("other portal: first event %s %+v, want its own dialog's", e.Type, p)
	}
}

// An access change anywhere reloads every open stream's rule of that portal
// and tells its pages to reload their lists; other portals hear nothing.
func TestHubAccessChanged(t *testing.T) {
	var changed atomic.Int64
	b := newBench(t, func(p int64) { changed.Store(p) })
	pa, pb := b.portal("a"), b.portal("b")
	d := b.dialog(pb, false)
	var invalidated atomic.Int32
	mk := func(p int64) *stream.Subscriber {
		s := &stream.Subscriber{PortalID: p, Invalidate: func() { invalidated.Add(1) }}
		b.hub.Subscribe(s)
		t.Cleanup(func() { b.hub.Unsubscribe(s) })
		return s
	}
	a1, a2, other := mk(pa), mk(pa), mk(pb)
	b.notify(store.Event{PortalID: pa, Type: "access.changed"}, store.Event{PortalID: pb, Type: "dialog.updated", DialogID: d.ID})
	for name, s := range map[string]*stream.Subscriber{"a1": a1, "a2": a2} {
		if e, _ := next(t, s, name); e.Type != "access.changed" {
			t.Errorf("%s: %s, want access.changed", name, e.Type)
		}
	}
	if e, p := next(t, other, "other"); e.Type != "dialog.updated" || p.DialogID != d.ID {
		t.Errorf("other portal: %s %+v, want only its own dialog's event", e.Type, p)
	}
	if n := invalidated.Load(); n != 2 {
		t.Errorf("%d rules reloaded, want portal a's 2", n)
	}
	if p := changed.Load(); p != pa {
		t.Errorf("OnAccessChanged told of portal %d, want %d", p, pa)
	}
}

// A subscriber too slow to take its events is dropped (its stream closed,
// the browser reconnects and reloads) rather than slowing everyone; the
// others still get every event.
func TestHubDropsTheSlow(t *testing.T) {
	b := newBench(t, nil)
	pa := b.portal("a")
	d := b.dialog(pa, false)
	slow := &stream.Subscriber{PortalID: pa, C: make(chan stream.Event, 1)}
	fast := &stream.Subscriber{PortalID: pa}
	b.hub.Subscribe(slow)
	b.hub.Subscribe(fast)
	defer b.hub.Unsubscribe(fast)
	const n = 3
	for range n {
		b.notify(store.Event{PortalID: pa, Type: "dialog.updated", DialogID: d.ID})
	}
	for range n {
		next(t, fast, "fast")
	}
	if _, ok := <-slow.C; !ok {
		t.Fatal("the slow stream lost the event it had room for")
	}
	select {
	case _, ok := <-slow.C:
		if ok {
			t.Fatal("the slow stream got more than its buffer")
		}
	case <-time.After(deadline):
		t.Fatal("the slow stream was not closed")
	}
	if c := b.hub.Count(); c != 1 {
		t.Errorf("Count = %d after dropping the slow stream, want 1", c)
	}
	// Unsubscribing a dropped stream again is harmless.
	b.hub.Unsubscribe(slow)
}
