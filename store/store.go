// Package store is relay24's PostgreSQL storage: one Store over sqlx, with
// methods grouped by what they store (portals, users, events, jobs). Missing
// rows become problem.NotFound here, never in a handler.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/relay24/relay24/problem"
)

// Store is the database.
type Store struct {
	db *sqlx.DB
}

// Open connects and checks the connection.
func Open(ctx context.Context, url string) (*Store, error) {
	db, err := sqlx.Open("postgres", url)
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	db.SetMaxOpenConns(40)
	db.SetMaxIdleConns(20)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connecting to the database: %w", err)
	}
	return &Store{db: db}, nil
}

// New wraps an open database (tests).
func New(db *sqlx.DB) *Store { return &Store{db: db} }

// DB is the underlying pool (migrations, readiness).
func (s *Store) DB() *sqlx.DB { return s.db }

// Close closes the pool.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks the database for /readyz.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Tx runs fn in a transaction, committing when it returns nil.
func (s *Store) Tx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return problem.New(problem.NotFound, what+"_not_found", "%s not found", what)
	}
	return err
}

func pqStrings(s []string) any { return pq.StringArray(s) }

// TryXactLock takes a transaction-level advisory lock if nobody holds it
// (one instance of many does a scheduled pass); it reports whether it did.
func TryXactLock(ctx context.Context, tx *sqlx.Tx, key int64) (bool, error) {
	var got bool
	if err := tx.GetContext(ctx, &got, `SELECT pg_try_advisory_xact_lock($1)`, key); err != nil {
		return false, fmt.Errorf("store: advisory lock %d: %w", key, err)
	}
	return got, nil
}
