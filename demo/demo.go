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
	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/wazzup/wztest"
)

// MemberID is the demo portal's fixed identity: every demo start re-installs
// the same portal instead of piling up new ones in the database.
const MemberID = "de000000000000000000000000de0024"

// Options tune RunWith; the zero value is what `relay24 demo` runs with.
type Options struct {
	// SimulateEvery is how often a simulated client writes unprompted
	// (default 40s); negative turns the simulated clients off, for tests
	// that count what the demo seeded.
	SimulateEvery time.Duration
}

// Run serves until ctx ends.
func Run(ctx context.Context, cfg *config.Config, log *slog.Logger, stdout io.Writer) error {
	return RunWith(ctx, cfg, log, stdout, Options{})
}

// RunWith serves until ctx ends. Every start shows the same world: the
// emulated portal and Wazzup account are rebuilt with fixed ids, the portal
// gets back what relay24 created in it (Restore), it is re-installed (the
// tokens are re-issued by the new emulated OAuth server), the same Wazzup
// account finds its gateway and channels again, and the seeded dialogs are
// delivered again under fixed ids, which relay24 files once.
func RunWith(ctx context.Context, cfg *config.Config, log *slog.Logger, stdout io.Writer, o Options) error {
	if o.SimulateEvery == 0 {
		o.SimulateEvery = 40 * time.Second
	}
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
	// A WhatsApp Business channel whose client wrote 25 hours ago: the
	// composer shows the closed window and the templates.
	world.AddWABA()

	cfg.B24OAuthURL = oauth.URL()
	cfg.B24ClientID = oauth.App().ClientID
	cfg.B24ClientSecret = oauth.App().ClientSecret
	cfg.B24AllowHTTP = true
	switch {
	case cfg.SecretGenerated:
		log.Warn("demo: SECRET_KEY was generated for this run: sessions and the channels' credentials will not survive a restart; set DEMO_DATA_DIR (scripts/demo does) to keep the key")
	case cfg.SecretFile != "":
		log.Info("demo: SECRET_KEY is kept in " + cfg.SecretFile)
	}
	a, err := app.New(ctx, cfg, app.Options{Log: log, Listener: ln})
	if err != nil {
		ln.Close()
		return err
	}
	// A restart: give the rebuilt portal back what relay24 made in it, before
	// any worker talks to it.
	if p, err := a.Store.PortalByMemberID(ctx, MemberID); err == nil {
		n, err := Restore(ctx, a.Store, p.ID, portal)
		if err != nil {
			a.Close()
			return fmt.Errorf("demo: restoring the emulated portal: %w", err)
		}
		log.Info("demo: the emulated portal got back what relay24 remembers of it", slog.Int("records", n))
	} else if !problem.Is(err, problem.NotFound) {
		a.Close()
		return fmt.Errorf("demo: looking for the demo portal: %w", err)
	}
	if err := world.RecallChats(ctx); err != nil {
		a.Close()
		return err
	}
	Sandbox(a.Echo, portal, 1, []int{cast.Deal.ID, 1, 2})
	a.Start(ctx)
	// The administrator installs the app again: the new emulated OAuth server
	// issues new tokens and the portal gets its placements and events bound.
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
	if err := ConfigureRobot(ctx, a, p.ID, portal); err != nil {
		log.Warn("demo: placing the robot on a deal stage", slog.String("error", err.Error()))
	}
	if err := world.SeedDialogs(ctx, a, p.ID); err != nil {
		log.Warn("demo: seeding dialogs", slog.String("error", err.Error()))
	}
	if err := SeedQuickReplies(ctx, a, p.ID); err != nil {
		log.Warn("demo: seeding quick replies", slog.String("error", err.Error()))
	}
	simDone := make(chan struct{})
	go func() {
		defer close(simDone)
		if o.SimulateEvery > 0 {
			world.Simulate(ctx, log, o.SimulateEvery, 200)
		}
	}()

	fmt.Fprintf(stdout, "\nrelay24 demo is running.\n\n"+
		"  Sandbox (the portal imitation with both chats): %s/demo\n"+
		"  (a deal moved to «В работе» there runs the robot «Отправить сообщение (relay24)»)\n\n"+
		"  Open %s/login?portal=%s\n"+
		"  (you log in to the emulated portal %s as its administrator, %s)\n\n"+
		"Stop with Ctrl+C.\n\n", cfg.PublicURL, cfg.PublicURL, url.QueryEscape(portal.Domain()), portal.Domain(), AdminName)
	<-ctx.Done()
	<-simDone
	return a.Close()
}

// Company is the demo company; in Bitrix24 the root department carries the
// company's name.
const Company = "Уютный дом"

// AdminName is the demo portal's administrator (user 1), who installs the
// app and whom the sandbox and the login link act as.
const AdminName = "Алексей Воронов"

// Seed fills the demo portal with a small company and its clients. The
// emulator's defaults are English placeholders ("Admin Adminov", "Company",
// the "General" pipeline): the demo portal is a Russian one, so they are
// renamed here rather than in b24test, which other tests rely on.
func Seed(p *b24test.Portal) {
	p.AddDepartment(b24test.Department{ID: 1, Name: Company, Head: 1})
	p.AddUser(b24test.User{ID: 1, Name: "Алексей", LastName: "Воронов", Email: "a.voronov@uyutny-dom.example",
		Active: true, Admin: true, Departments: []int{1}, Lang: "ru"})
	p.AddDealCategory(0, "Общая")
	p.AddDepartment(b24test.Department{ID: 2, Name: "Отдел продаж", Parent: 1, Head: 2})
	p.AddDepartment(b24test.Department{ID: 3, Name: "Служба поддержки", Parent: 1, Head: 4})
	p.AddUser(b24test.User{ID: 2, Name: "Мария", LastName: "Смирнова", Active: true, Departments: []int{2}, Lang: "ru"})
	p.AddUser(b24test.User{ID: 3, Name: "Иван", LastName: "Петров", Active: true, Departments: []int{2}, Lang: "ru"})
	p.AddUser(b24test.User{ID: 4, Name: "Ольга", LastName: "Кузнецова", Active: true, Departments: []int{3}, Lang: "ru"})
	p.SeedCRM(60, 40)
}
