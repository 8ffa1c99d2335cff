// Package migrations holds relay24's schema as numbered, append-only SQL files
// and applies them at start-up under a PostgreSQL advisory lock, so that
// several instances starting at once migrate exactly once.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed *.sql
var files embed.FS

// FS is the embedded migration files.
func FS() fs.FS { return files }

func provider(db *sql.DB) (*goose.Provider, error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, fmt.Errorf("migrations: advisory locker: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, files, goose.WithSessionLocker(locker))
	if err != nil {
		return nil, fmt.Errorf("migrations: provider: %w", err)
	}
	return p, nil
}

// Up applies every pending migration, each in its own transaction.
func Up(ctx context.Context, db *sql.DB, log *slog.Logger) error {
	p, err := provider(db)
	if err != nil {
		return err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrations: up: %w", err)
	}
	for _, r := range results {
		log.Info("migration applied", slog.String("source", r.Source.Path), slog.Duration("took", r.Duration))
	}
	return nil
}

// Check refuses a schema newer than this binary knows: a rolled-back binary
// must not write into tables whose meaning has changed under it.
func Check(ctx context.Context, db *sql.DB) error {
	p, err := provider(db)
	if err != nil {
		return err
	}
	current, err := p.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("migrations: reading schema version: %w", err)
	}
	sources := p.ListSources()
	var latest int64
	if len(sources) > 0 {
		latest = sources[len(sources)-1].Version
	}
	if current > latest {
		return fmt.Errorf("migrations: database schema is at version %d but this binary knows only up to %d; upgrade relay24", current, latest)
	}
	if current < latest {
		return fmt.Errorf("migrations: database schema is at version %d, %d needed; run `relay24 migrate`", current, latest)
	}
	return nil
}
