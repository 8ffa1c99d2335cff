// Package demo runs relay24 against its built-in emulated Bitrix24 portal,
// installed and seeded, so a newcomer sees the product work with no account
// and no configuration (`relay24 demo`).
package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"

	"github.com/relay24/relay24/app"
	"github.com/relay24/relay24/bitrix/b24test"
	"github.com/relay24/relay24/config"
)

// MemberID is the demo portal's fixed identity: every demo start re-installs
// the same portal instead of piling up new ones in the database.
const MemberID = "de000000000000000000000000de0024"

// Run serves until ctx ends.
func Run(ctx context.Context, cfg *config.Config, log *slog.Logger, stdout io.Writer) error {
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("demo: listening on %s: %w", cfg.ListenAddr, err)
	}
	if !cfg.PublicURLSet {
		cfg.PublicURL = "http://" + ln.Addr().String()
	}
	secretBytes := make([]byte, 24)
	_, _ = rand.Read(secretBytes)
	oauth := b24test.NewOAuth(b24test.App{
		ClientID:     "local.relay24demo.00000001",
		ClientSecret: hex.EncodeToString(secretBytes),
		RedirectURI:  cfg.PublicURL + "/oauth/callback",
	})
	defer oauth.Close()
	portal := oauth.NewPortal(b24test.PortalOptions{MemberID: MemberID, Lang: "ru"})
	defer portal.Close()
	Seed(portal)

	cfg.B24OAuthURL = oauth.URL()
	cfg.B24ClientID = oauth.App().ClientID
	cfg.B24ClientSecret = oauth.App().ClientSecret
	cfg.B24AllowHTTP = true
	if cfg.SecretGenerated {
		log.Warn("demo: SECRET_KEY was generated for this run; sessions end when it stops")
	}
	a, err := app.New(ctx, cfg, app.Options{Log: log, Listener: ln})
	if err != nil {
		ln.Close()
		return err
	}
	a.Start(ctx)
	r, err := portal.PostInstall(ctx, cfg.PublicURL+"/b24/install", 1)
	if err != nil || r.Status != http.StatusOK {
		a.Close()
		return fmt.Errorf("demo: installing into the emulated portal: %v (status %d)", err, r.Status)
	}
	portal.InstallFinish()

	fmt.Fprintf(stdout, "\nrelay24 demo is running.\n\n"+
		"  Open %s/login?portal=%s\n"+
		"  (you log in to the emulated portal %s as its administrator)\n\n"+
		"Stop with Ctrl+C.\n\n", cfg.PublicURL, url.QueryEscape(portal.Domain()), portal.Domain())
	<-ctx.Done()
	return a.Close()
}

// Seed fills the demo portal with a small company and its clients.
func Seed(p *b24test.Portal) {
	p.AddDepartment(b24test.Department{ID: 2, Name: "Отдел продаж", Parent: 1, Head: 2})
	p.AddDepartment(b24test.Department{ID: 3, Name: "Поддержка", Parent: 1, Head: 4})
	p.AddUser(b24test.User{ID: 2, Name: "Мария", LastName: "Смирнова", Active: true, Departments: []int{2}, Lang: "ru"})
	p.AddUser(b24test.User{ID: 3, Name: "Иван", LastName: "Петров", Active: true, Departments: []int{2}, Lang: "ru"})
	p.AddUser(b24test.User{ID: 4, Name: "Ольга", LastName: "Кузнецова", Active: true, Departments: []int{3}, Lang: "ru"})
	p.SeedCRM(60, 40)
}
