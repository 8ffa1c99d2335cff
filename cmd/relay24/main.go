// Command relay24 serves the relay between messaging channels and Bitrix24.
// main only wires: the work is in package app.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/relay24/relay24/app"
	"github.com/relay24/relay24/config"
	"github.com/relay24/relay24/demo"
	"github.com/relay24/relay24/migrations"
	"github.com/relay24/relay24/secret"
	"github.com/relay24/relay24/store"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// localDB is the cluster scripts/pg starts, used when DATABASE_URL is unset.
const localDB = "postgres://postgres@127.0.0.1:55432/relay24?sslmode=disable"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "relay24:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "relay24", version)
		return nil
	case "serve", "migrate", "demo":
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, "usage: relay24 [serve|migrate|demo|version]")
		return nil
	default:
		return fmt.Errorf("unknown command %q (serve, migrate, demo, version)", cmd)
	}
	cfg, err := config.Parse(getenv, cmd == "demo", localDB)
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			for _, p := range ce.Problems {
				fmt.Fprintln(stderr, "relay24: configuration:", p)
			}
			return errors.New("invalid configuration")
		}
		return err
	}
	log := slog.New(secret.LogHandler(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel})))
	log.Info("configuration", slog.Any("config", cfg.Redacted()), slog.String("version", version))
	if cfg.DatabaseDefaulted && cmd == "serve" {
		// The fallback is scripts/pg's development cluster: fsync off, so a
		// crash of the machine can lose what it stored.
		log.Warn("DATABASE_URL is unset: using the local development cluster of scripts/pg (fsync off, never for production)")
	}
	switch cmd {
	case "migrate":
		st, err := store.Open(ctx, cfg.DatabaseURL)
		if err != nil {
			return err
		}
		defer st.Close()
		return migrations.Up(ctx, st.DB().DB, log)
	case "demo":
		return demo.Run(ctx, cfg, log, stdout)
	}
	a, err := app.New(ctx, cfg, app.Options{Log: log})
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
