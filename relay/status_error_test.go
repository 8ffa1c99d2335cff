package relay

import (
	"context"
	"database/sql"
	"log/slog"
	"testing"
	"time"

	"github.com/relay24/relay24/store"
	"github.com/relay24/relay24/store/storetest"
)

// A reply the gateway later reports failed (a Wazzup status webhook
// with status "error", e.g. 24_HOURS_EXCEEDED or BAD_CONTACT) is marked
// error, but the dialog is not recomputed: it stays answered, although
// CONTRACT §6 / ARCHITECTURE say a failed reply is no answer and "the dialog
// waits again" (failSend recomputes; applyStatus and matchEcho do not).
func TestGatewayErrorStatusReopensTheWait(t *testing.T) {
	ctx := context.Background()
	st := store.New(storetest.DB(t))
	p, err := st.UpsertInstall(ctx, store.Install{MemberID: "m", Domain: "m.example", ClientEndpoint: "https://m.example/rest/",
		TokenExpiresAt: time.Now().Add(time.Hour), AccessToken: func(int64) []byte { return nil }, RefreshToken: func(int64) []byte { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	g := &store.Gateway{PortalID: p.ID, Provider: "wazzup", Credentials: []byte("x"), WebhookKey: []byte("k"), State: "active"}
	if err := st.CreateGateway(ctx, g); err != nil {
		t.Fatal(err)
	}
	ch := &store.Channel{PortalID: p.ID, GatewayID: g.ID, ExternalID: "c", Provider: "wazzup", Transport: "whatsapp", State: "active"}
	if err := st.UpsertChannel(ctx, ch); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	var d *store.Dialog
	err = st.Tx(ctx, func(tx *store.Store) error {
		var err error
		if d, _, err = tx.UpsertDialog(ctx, p.ID, store.DialogKey{ChannelID: ch.ID, ChatType: "whatsapp", ChatID: "79001234567"}, store.ClientInfo{}); err != nil {
			return err
		}
		for _, m := range []*store.Message{
			{Direction: "in", Status: "inbound", ProviderMessageID: sql.NullString{String: "in-1", Valid: true}, SentAt: base},
			{Direction: "out", Status: "sent", ProviderMessageID: sql.NullString{String: "out-1", Valid: true}, ClientID: sql.NullString{String: "c1", Valid: true}, SentAt: base.Add(time.Minute)},
		} {
			m.PortalID, m.DialogID, m.ChannelID, m.Kind, m.Text = p.ID, d.ID, ch.ID, "text", "x"
			if _, _, err := tx.InsertMessage(ctx, m); err != nil {
				return err
			}
		}
		d, err = tx.RecomputeDialog(ctx, d.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if d.Unanswered {
		t.Fatal("setup: the reply should answer the dialog")
	}
	s := New(Options{Store: st, Log: slog.New(slog.DiscardHandler)})
	if err := s.applyStatus(ctx, g, "out-1", "error", "24_HOURS_EXCEEDED", time.Time{}, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	got, err := st.DialogByID(ctx, p.ID, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Unanswered {
		t.Fatal("the gateway reported the reply failed, yet the dialog does not wait again")
	}
	// The gateway changes its mind: delivered after all, so it answers again.
	if err := s.applyStatus(ctx, g, "out-1", "delivered", "", time.Time{}, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if got, err = st.DialogByID(ctx, p.ID, d.ID); err != nil || got.Unanswered {
		t.Fatalf("the reply was delivered after all, yet the dialog still waits: %v", err)
	}
}
