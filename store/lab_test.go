package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/relay24/relay24/store"
	"github.com/relay24/relay24/store/storetest"
)

// lab is a fresh migrated database with helpers that seed it through the
// store's own functions, as the application writes it.
type lab struct {
	t    *testing.T
	ctx  context.Context
	db   *sqlx.DB
	s    *store.Store
	base time.Time // minute 0 of the tests' provider times
	seq  int
}

func newLab(t *testing.T) *lab {
	t.Helper()
	db := storetest.DB(t)
	return &lab{t: t, ctx: context.Background(), db: db, s: store.New(db),
		base: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
}

func (l *lab) next() int { l.seq++; return l.seq }

// at is minute m of the test's timeline.
func (l *lab) at(m int) time.Time { return l.base.Add(time.Duration(m) * time.Minute) }

// portal installs a portal and returns its id.
func (l *lab) portal(member string) int64 {
	l.t.Helper()
	p, err := l.s.UpsertInstall(l.ctx, store.Install{
		MemberID: member, Domain: member + ".bitrix24.example", ClientEndpoint: "https://" + member + ".bitrix24.example/rest/",
		AccessToken:    func(int64) []byte { return []byte("sealed-access") },
		RefreshToken:   func(int64) []byte { return []byte("sealed-refresh") },
		TokenExpiresAt: time.Now().Add(time.Hour), TokenUserID: 1,
	})
	if err != nil {
		l.t.Fatal(err)
	}
	return p.ID
}

// channel connects a gateway with one channel of the transport.
func (l *lab) channel(portalID int64, transport string) int64 {
	l.t.Helper()
	n := l.next()
	g := &store.Gateway{PortalID: portalID, Provider: "wazzup", Credentials: []byte("sealed"),
		WebhookKey: []byte(fmt.Sprintf("key-%d", n)), AccountID: fmt.Sprintf("acc-%d", n), State: "active"}
	if err := l.s.CreateGateway(l.ctx, g); err != nil {
		l.t.Fatal(err)
	}
	c := &store.Channel{PortalID: portalID, GatewayID: g.ID, ExternalID: fmt.Sprintf("ch-%d", n), Provider: "wazzup",
		Transport: transport, Name: fmt.Sprintf("%s %d", transport, n), State: "active"}
	if err := l.s.UpsertChannel(l.ctx, c); err != nil {
		l.t.Fatal(err)
	}
	return c.ID
}

// dialog opens a dialog on a channel; contact and responsible are 0 for none.
func (l *lab) dialog(portalID, channelID, contactID, responsible int64) *store.Dialog {
	l.t.Helper()
	var d *store.Dialog
	err := l.s.Tx(l.ctx, func(tx *store.Store) error {
		var err error
		d, _, err = tx.UpsertDialog(l.ctx, portalID, store.DialogKey{ChannelID: channelID, ChatType: "whatsapp",
			ChatID: fmt.Sprintf("7900%07d", l.next())}, store.ClientInfo{Name: "client"})
		if err != nil {
			return err
		}
		if contactID > 0 || responsible > 0 {
			return tx.ResolveDialog(l.ctx, d.ID, contactID, 0, 0, responsible)
		}
		return nil
	})
	if err != nil {
		l.t.Fatal(err)
	}
	return d
}

// msg files a message at minute m the way the relay does (insert, then
// recompute the dialog in the same transaction) and returns the dialog.
func (l *lab) msg(d *store.Dialog, direction, status string, m int) (*store.Message, *store.Dialog) {
	l.t.Helper()
	return l.msgAt(d, direction, status, l.at(m))
}

func (l *lab) msgAt(d *store.Dialog, direction, status string, at time.Time) (*store.Message, *store.Dialog) {
	l.t.Helper()
	var out *store.Message
	var nd *store.Dialog
	err := l.s.Tx(l.ctx, func(tx *store.Store) error {
		m := &store.Message{PortalID: d.PortalID, DialogID: d.ID, ChannelID: d.ChannelID, Direction: direction,
			ProviderMessageID: sql.NullString{String: fmt.Sprintf("wz-%d", l.next()), Valid: true},
			Kind:              "text", Text: fmt.Sprintf("%s at %s", direction, at.Format(time.TimeOnly)), Status: status, SentAt: at}
		stored, inserted, err := tx.InsertMessage(l.ctx, m)
		if err != nil {
			return err
		}
		if !inserted {
			return fmt.Errorf("message not inserted")
		}
		out = stored
		nd, err = tx.RecomputeDialog(l.ctx, d.ID)
		return err
	})
	if err != nil {
		l.t.Fatal(err)
	}
	return out, nd
}

// noReply presses "No reply needed" at minute m, as the relay does.
func (l *lab) noReply(d *store.Dialog, m int) *store.Dialog {
	l.t.Helper()
	var nd *store.Dialog
	err := l.s.Tx(l.ctx, func(tx *store.Store) error {
		if err := tx.MarkNoReplyNeeded(l.ctx, d.ID, l.at(m)); err != nil {
			return err
		}
		var err error
		nd, err = tx.RecomputeDialog(l.ctx, d.ID)
		return err
	})
	if err != nil {
		l.t.Fatal(err)
	}
	return nd
}

// user stores an employee.
func (l *lab) user(portalID, id int64, admin, active bool, deps ...int64) {
	l.t.Helper()
	if err := l.s.UpsertUser(l.ctx, store.User{PortalID: portalID, ID: id, Name: fmt.Sprintf("user %d", id),
		IsAdmin: admin, Active: active, Departments: deps}); err != nil {
		l.t.Fatal(err)
	}
}

// contacts mirrors CRM contacts (id → responsible user, 0 for none).
func (l *lab) contacts(portalID int64, assigned map[int64]int64) {
	l.t.Helper()
	var cs []store.Contact
	for id, a := range assigned {
		cs = append(cs, store.Contact{ID: id, Name: fmt.Sprintf("contact %d", id), AssignedByID: a})
	}
	if err := l.s.UpsertContacts(l.ctx, portalID, cs, nil); err != nil {
		l.t.Fatal(err)
	}
}

func viewIDs(ds []store.DialogView) []int64 {
	out := make([]int64, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

// nullInt is a set id, or NULL for 0.
func nullInt(n int64) sql.NullInt64 { return sql.NullInt64{Int64: n, Valid: n != 0} }
