package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/relay24/relay24/store"
	"github.com/relay24/relay24/store/storetest"
)

func TestLinkPreviewCache(t *testing.T) {
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	const u = "https://example.com/a"
	if c, err := s.LinkPreview(ctx, u); err != nil || c != nil {
		t.Fatalf("empty cache: %+v %v", c, err)
	}
	if err := s.SaveLinkPreview(ctx, u, nil, "timeout", time.Hour); err != nil {
		t.Fatal(err)
	}
	c, err := s.LinkPreview(ctx, u)
	if err != nil || c == nil || c.Failure.String != "timeout" || c.Preview != nil {
		t.Fatalf("failure: %+v %v", c, err)
	}
	// A later fetch replaces the failure.
	if err := s.SaveLinkPreview(ctx, u, json.RawMessage(`{"title":"T"}`), "", time.Hour); err != nil {
		t.Fatal(err)
	}
	c, err = s.LinkPreview(ctx, u)
	if err != nil || c == nil || c.Failure.Valid || string(c.Preview) != `{"title": "T"}` {
		t.Fatalf("preview: %+v %s %v", c, c.Preview, err)
	}
	if c, _ := s.LinkPreview(ctx, u+"/b"); c != nil {
		t.Fatalf("another URL answered: %+v", c)
	}
	// Expired rows are not answered, and are pruned after the grace.
	if err := s.SaveLinkPreview(ctx, u, nil, "not_html", -time.Minute); err != nil {
		t.Fatal(err)
	}
	if c, err := s.LinkPreview(ctx, u); err != nil || c != nil {
		t.Fatalf("expired: %+v %v", c, err)
	}
	if n, err := s.PruneLinkPreviews(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("prune within grace: %d %v", n, err)
	}
	if n, err := s.PruneLinkPreviews(ctx, 0); err != nil || n != 1 {
		t.Fatalf("prune: %d %v", n, err)
	}
}
