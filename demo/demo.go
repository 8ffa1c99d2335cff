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
	"time"

	"github.com/relay24/relay24/app"
	"github.com/relay24/relay24/bitrix/b24test"
	"github.com/relay24/relay24/config"
	"github.com/relay24/relay24/wazzup/wztest"
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
	cast := SeedCast(portal)
	// The sandbox channel: an emulated Wazzup account with a WhatsApp and an
	// Instagram channel, whose clients write into relay24's webhook.
	wz := wztest.NewServer()
	defer wz.Close()
	cfg.WazzupAPIURL = wz.URL()
	world := NewWorld(wz, cast)

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
	Sandbox(a.Echo, portal, 1, []int{cast.Deal.ID, 1, 2})
	a.Start(ctx)
	r, err := portal.PostInstall(ctx, cfg.PublicURL+"/b24/install", 1)
	if err != nil || r.Status != http.StatusOK {
		a.Close()
		return fmt.Errorf("demo: installing into the emulated portal: %v (status %d)", err, r.Status)
	}
	portal.InstallFinish()
	p, err := a.Store.PortalByMemberID(ctx, MemberID)
	if err != nil {
		a.Close()
		return fmt.Errorf("demo: the installed portal: %w", err)
	}
	if !waitMirrored(ctx, a, p.ID, []int{cast.Anna.ID, cast.Boris.ID}, 30*time.Second) {
		log.Warn("demo: the first sync is slow; the demo clients may get new contacts")
	}
	if err := world.Connect(ctx, a, p.ID); err != nil {
		a.Close()
		return fmt.Errorf("demo: connecting the sandbox Wazzup account: %w", err)
	}
	if err := world.SeedDialogs(ctx, a, p.ID); err != nil {
		log.Warn("demo: seeding dialogs", slog.String("error", err.Error()))
	}
	simDone := make(chan struct{})
	go func() {
		defer close(simDone)
		world.Simulate(ctx, log, 40*time.Second, 200)
	}()

	fmt.Fprintf(stdout, "\nrelay24 demo is running.\n\n"+
		"  Sandbox (the portal imitation with both chats): %s/demo\n\n"+
		"  Open %s/login?portal=%s\n"+
		"  (you log in to the emulated portal %s as its administrator)\n\n"+
		"Stop with Ctrl+C.\n\n", cfg.PublicURL, cfg.PublicURL, url.QueryEscape(portal.Domain()), portal.Domain())
	<-ctx.Done()
	<-simDone
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
