package b24test_test

import (
	"testing"

	"github.com/relay24/relay24/bitrix/b24test"
)

func BenchmarkSeedCRM100k(b *testing.B) {
	for b.Loop() {
		o := b24test.NewOAuth(testApp)
		p := o.NewPortal(b24test.PortalOptions{})
		p.SeedCRM(100000, 100000)
		o.Close()
	}
}

// BenchmarkListPageByID is one fast-export page (filter >ID, ID ASC,
// start=-1) from a 100k-contact portal over HTTP.
func BenchmarkListPageByID(b *testing.B) {
	o := b24test.NewOAuth(testApp)
	defer o.Close()
	p := o.NewPortal(b24test.PortalOptions{Burst: -1})
	p.SeedCRM(100000, 0)
	e := &env{t: b, o: o, p: p, tok: p.IssueTokens(1)}
	last := 0
	for b.Loop() {
		e.call("crm.contact.list", map[string]any{"filter": map[string]any{">ID": last}, "order": map[string]any{"ID": "ASC"}, "start": -1}).mustOK(b)
		last = (last + 50) % 99000
	}
}
