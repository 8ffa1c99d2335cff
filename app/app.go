// Package app assembles relay24: it owns the configuration, the database, the
// HTTP server, the scheduler and the workers, with Run and Close, so that
// tests boot the real thing on 127.0.0.1:0.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/robfig/cron/v3"

	"github.com/relay24/relay24/access"
	"github.com/relay24/relay24/automation"
	"github.com/relay24/relay24/bitrix"
	"github.com/relay24/relay24/config"
	"github.com/relay24/relay24/crmsync"
	"github.com/relay24/relay24/filestore"
	"github.com/relay24/relay24/handlers"
	"github.com/relay24/relay24/jobs"
	"github.com/relay24/relay24/linkpreview"
	"github.com/relay24/relay24/migrations"
	"github.com/relay24/relay24/portal"
	"github.com/relay24/relay24/relay"
	"github.com/relay24/relay24/secret"
	"github.com/relay24/relay24/session"
	"github.com/relay24/relay24/store"
	"github.com/relay24/relay24/stream"
	"github.com/relay24/relay24/web"
)

// Options are what a caller (main, a test, the demo) may inject.
type Options struct {
	Log *slog.Logger
	// HTTP is the client for remote services (portals, OAuth, gateways).
	HTTP *http.Client
	// Workers is how many job workers run (default 4); -1 runs none (tests
	// that drive the queue by hand).
	Workers int
	// RetryBase shortens backoffs in tests.
	RetryBase time.Duration
	// Now is the clock (tests inject one).
	Now func() time.Time
	// Listener, when set, is used instead of binding LISTEN_ADDR (tests and
	// the demo learn the address before the app exists).
	Listener net.Listener
}

// App is a running relay24.
type App struct {
	Config  *config.Config
	Log     *slog.Logger
	Store   *store.Store
	Jobs    *jobs.Queue
	Portals *portal.Service
	Sync    *crmsync.Syncer
	Relay   *relay.Service
	// Automation is the robot and the triggers (relay24 in Bitrix24's automation).
	Automation *automation.Service
	Access     *access.Rules
	Stream     *stream.Hub
	Sessions   *session.Signer
	Echo       *echo.Echo
	Cron       *cron.Cron

	// Links makes link previews; tests may trust their own page server
	// (Links.Fetcher.SetTrusted).
	Links *linkpreview.Service

	listener net.Listener
	workers  int
	metrics  *metrics
	stop     context.CancelFunc
	done     sync.WaitGroup
	files    filestore.Sweeper
	clock    func() time.Time
}

func (a *App) now() time.Time {
	if a.clock != nil {
		return a.clock()
	}
	return time.Now()
}

// New connects, migrates and wires everything; nothing runs until Run.
func New(ctx context.Context, cfg *config.Config, o Options) (*App, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.NewJSONHandler(nopWriter{}, nil))
	}
	// Every line the app logs passes the scrubber: error texts quote request
	// URLs and answers that may carry tokens.
	log = slog.New(secret.LogHandler(log.Handler()))
	if o.HTTP == nil {
		o.HTTP = &http.Client{Timeout: 60 * time.Second}
	}
	if o.Workers == 0 {
		o.Workers = 4
	}
	keys, err := secret.New(cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	assets, err := web.New()
	if err != nil {
		return nil, err
	}
	ln := o.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.ListenAddr); err != nil {
			return nil, fmt.Errorf("listening on %s: %w", cfg.ListenAddr, err)
		}
	}
	if !cfg.PublicURLSet {
		cfg.PublicURL = "http://" + ln.Addr().String()
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		ln.Close()
		return nil, err
	}
	if err := migrations.Up(ctx, st.DB().DB, log); err != nil {
		st.Close()
		ln.Close()
		return nil, err
	}
	if err := migrations.Check(ctx, st.DB().DB); err != nil {
		st.Close()
		ln.Close()
		return nil, err
	}

	m := newMetrics()
	q := jobs.New(st.DB(), log)
	a := &App{
		Config: cfg, Log: log, Store: st, Jobs: q, listener: ln, workers: o.Workers, metrics: m,
		Sessions: session.NewSigner(keys, o.Now), clock: o.Now,
		Cron: cron.New(cron.WithChain(cron.Recover(cronLogger{log}), cron.SkipIfStillRunning(cronLogger{log}))),
	}
	a.Portals = portal.New(portal.Options{
		Store: st, Keys: keys, Jobs: q, PublicURL: cfg.PublicURL, AllowHTTP: cfg.B24AllowHTTP,
		OAuth: bitrix.NewOAuth(cfg.B24OAuthURL, cfg.B24ClientID, cfg.B24ClientSecret, o.HTTP),
		HTTP:  o.HTTP, Log: log, Observe: m.observeB24, ObservePortal: m.observePortal,
		CommandsPortal: m.commandsPortal, RetryBase: o.RetryBase,
	})
	// Portal-bound jobs are claimed per portal, only while the portal has
	// request budget (docs/DESIGN.md, "Per-portal lanes"); filing
	// webhooks is local work, and sending and copying clients' files talk to
	// the gateways: unpaced.
	q.SetGate(a.Portals, slices.Concat(relay.FilingKinds, relay.SendKinds, relay.MediaKinds)...)
	m.reg.MustRegister(newPortalQueue(q))

	a.Sync = &crmsync.Syncer{Store: st, Portals: a.Portals, Jobs: q, Log: log, Now: o.Now}
	a.Sync.Register(q)
	a.Portals.SetEventSink(a.Sync.OnEvent)
	if _, err := a.Cron.AddFunc("@every "+cfg.ReconcileEvery.String(), func() {
		if err := a.Sync.ScheduleReconcile(context.Background()); err != nil {
			log.Error("scheduling reconciliation", slog.String("error", err.Error()))
		}
	}); err != nil {
		st.Close()
		ln.Close()
		return nil, fmt.Errorf("scheduling reconciliation: %w", err)
	}

	a.Access = &access.Rules{Store: st}
	files := filestore.NewPostgres(st)
	a.Relay = relay.New(relay.Options{
		Store: st, Portals: a.Portals, Sync: a.Sync, Access: a.Access, Jobs: q, Keys: keys, Log: log, PublicURL: cfg.PublicURL,
		WazzupAPIURL: cfg.WazzupAPIURL, TelegramAPIURL: cfg.TelegramAPIURL, HTTP: o.HTTP, Now: o.Now,
		Files: files, Links: a.Sessions,
	})
	a.Relay.Register(q)
	// WhatsApp Business templates are fetched again now and then (their
	// moderation webhook keeps them current in between).
	if _, err := a.Cron.AddFunc("@every "+relay.TemplatesEvery.String(), func() {
		if err := a.Relay.ScheduleTemplateRefresh(context.Background()); err != nil {
			log.Error("scheduling the template refresh", slog.String("error", err.Error()))
		}
	}); err != nil {
		st.Close()
		ln.Close()
		return nil, fmt.Errorf("scheduling the template refresh: %w", err)
	}
	a.Automation = automation.New(automation.Options{
		Store: st, Portals: a.Portals, Relay: a.Relay, Jobs: q, Log: log, PublicURL: cfg.PublicURL, Now: o.Now,
	})
	a.Automation.Register(q)
	a.Portals.SetRegistrar(a.Automation.Ensure)
	a.Relay.SetHooks(a.Automation.Hooks())
	// The robot's template_id goes out as a WABA template when the window
	// is closed.
	a.Automation.SetTemplates(relay.RobotTemplates{S: a.Relay})
	a.Stream = stream.New(st, cfg.DatabaseURL, log)
	a.Stream.OnAccessChanged = a.Access.Invalidate

	if _, err := a.Cron.AddFunc("@every 10m", func() {
		if n, err := q.Prune(context.Background(), 24*time.Hour); err != nil {
			log.Error("pruning finished jobs", slog.String("error", err.Error()))
		} else if n > 0 {
			log.Info("finished jobs pruned", slog.Int64("count", n))
		}
	}); err != nil {
		st.Close()
		ln.Close()
		return nil, fmt.Errorf("scheduling job pruning: %w", err)
	}
	a.Links = linkpreview.NewService(linkpreview.NewFetcher(nil), st, log)
	if _, err := a.Cron.AddFunc("@every 1h", func() {
		if _, err := st.PruneLinkPreviews(context.Background(), 24*time.Hour); err != nil {
			log.Error("pruning link previews", slog.String("error", err.Error()))
		}
	}); err != nil {
		st.Close()
		ln.Close()
		return nil, fmt.Errorf("scheduling link preview pruning: %w", err)
	}

	// Uploads no reply took within a day are deleted (they hold a
	// salesperson's files that were never sent).
	if _, err := a.Cron.AddFunc("@every 1h", func() { a.SweepUnsentFiles(context.Background()) }); err != nil {
		st.Close()
		ln.Close()
		return nil, fmt.Errorf("scheduling the unsent uploads' cleanup: %w", err)
	}
	a.files = files

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(m.middleware)
	h := &handlers.Handlers{
		Store: st, Portals: a.Portals, Sessions: a.Sessions, Web: assets, Log: log, PublicURL: cfg.PublicURL, Sync: a.Sync,
		Relay: a.Relay, Automation: a.Automation, Access: a.Access, Stream: a.Stream, Files: files, Links: a.Links,
		Metrics: promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}),
		Ready:   st.Ping,
	}
	h.Register(e)
	a.Echo = e
	return a, nil
}

// SweepUnsentFiles deletes the uploads no reply took within
// filestore.UnsentTTL (the scheduler runs it hourly; tests call it).
func (a *App) SweepUnsentFiles(ctx context.Context) int64 {
	n, err := a.files.DeleteUnsent(ctx, a.now().Add(-filestore.UnsentTTL))
	if err != nil {
		a.Log.Error("deleting unsent uploads", slog.String("error", err.Error()))
	} else if n > 0 {
		a.Log.Info("unsent uploads deleted", slog.Int64("count", n))
	}
	return n
}

// URL is where the server is reached (PUBLIC_URL).
func (a *App) URL() string { return a.Config.PublicURL }

// Start serves HTTP and runs the workers and the scheduler in the background.
func (a *App) Start(ctx context.Context) {
	ctx, a.stop = context.WithCancel(ctx)
	srv := &http.Server{Handler: a.Echo, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		IdleTimeout: 2 * time.Minute}
	a.Echo.Server = srv
	// Shutdown waits for in-flight requests; event streams never end by
	// themselves, so they are ended when it starts.
	srv.RegisterOnShutdown(a.Stream.EndStreams)
	a.done.Go(func() {
		if err := srv.Serve(a.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.Log.Error("http server", slog.String("error", err.Error()))
		}
	})
	if a.workers > 0 {
		// Filing webhooks and sending replies never wait behind work paced
		// by the portal's rate limit.
		// Two filing workers keep up with far more than a portal receives,
		// and the CPU they leave keeps acknowledgements fast under a burst.
		a.done.Go(func() { a.Jobs.RunKinds(ctx, 2, relay.FilingKinds) })
		a.done.Go(func() { a.Jobs.RunKinds(ctx, min(a.workers, 2), relay.SendKinds) })
		a.done.Go(func() { a.Jobs.RunKinds(ctx, min(a.workers, 2), relay.MediaKinds) })
		a.done.Go(func() {
			a.Jobs.RunExcept(ctx, a.workers, slices.Concat(relay.FilingKinds, relay.SendKinds, relay.MediaKinds))
		})
	}
	a.Relay.Start(ctx, 4)
	a.done.Go(func() {
		if err := a.Stream.Run(ctx); err != nil {
			a.Log.Error("event stream listener", slog.String("error", err.Error()))
		}
	})
	a.Cron.Start()
	a.Log.Info("relay24 serving", slog.String("listen", a.listener.Addr().String()), slog.String("public_url", a.Config.PublicURL))
}

// Run serves until ctx ends, then shuts down gracefully.
func (a *App) Run(ctx context.Context) error {
	a.Start(ctx)
	<-ctx.Done()
	return a.Close()
}

// Close stops in reverse start order: the scheduler, HTTP (letting requests
// finish), the workers, then the database.
func (a *App) Close() error {
	<-a.Cron.Stop().Done()
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var errs []error
	if a.Echo.Server != nil {
		if err := a.Echo.Server.Shutdown(sctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
	} else {
		a.listener.Close()
	}
	if a.stop != nil {
		a.stop()
	}
	a.done.Wait()
	// The queue's owner lock goes now, not when the pool closes: another
	// instance takes up at once whatever it still held.
	a.Jobs.Close()
	if err := a.Store.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

// cronLogger adapts slog to cron's logger.
type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Debug("cron: "+msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append(kv, slog.String("error", err.Error()))...)
}
