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

// Store is the database: every method runs its SQL on the pool, or, on the
// Store that Tx hands its callback, inside that transaction.
type Store struct {
	pool *sqlx.DB
	db   handle   // the pool, or the transaction
	tx   *sqlx.Tx // the transaction this Store is bound to, if any
	// stats caches the dialogs' name statistics for search (shared by
	// the Stores of its transactions).
	stats *nameStats
}

// handle is what both the pool and a transaction are to the store's methods.
type handle interface {
	sqlx.ExtContext
	GetContext(ctx context.Context, dest any, query string, args ...any) error
	SelectContext(ctx context.Context, dest any, query string, args ...any) error
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
	return New(db), nil
}

// New wraps an open database (tests).
func New(db *sqlx.DB) *Store { return &Store{pool: db, db: db, stats: &nameStats{}} }

// DB is the underlying pool (migrations, the job queue), whichever Store
// it is asked of.
func (s *Store) DB() *sqlx.DB { return s.pool }

// Ext is what this Store runs its SQL on: the pool, or inside Tx the
// transaction (for the job queue to enqueue in the same transaction).
func (s *Store) Ext() sqlx.ExtContext { return s.db }

// Close closes the pool.
func (s *Store) Close() error { return s.pool.Close() }

// Ping checks the database for /readyz.
func (s *Store) Ping(ctx context.Context) error { return s.pool.PingContext(ctx) }

// Tx runs fn with a Store bound to a new transaction, committing when fn
// returns nil and rolling back otherwise. On a Store already bound to a
// transaction fn runs in that one (its caller commits or rolls back).
func (s *Store) Tx(ctx context.Context, fn func(tx *Store) error) error {
	if s.tx != nil {
		return fn(s)
	}
	tx, err := s.pool.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(&Store{pool: s.pool, db: tx, tx: tx, stats: s.stats}); err != nil {
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
// Outside a transaction the lock would end with the statement: call it on
// the Store Tx hands its callback.
func (s *Store) TryXactLock(ctx context.Context, key int64) (bool, error) {
	if s.tx == nil {
		return false, errors.New("store: advisory transaction lock outside a transaction")
	}
	var got bool
	if err := s.db.GetContext(ctx, &got, `SELECT pg_try_advisory_xact_lock($1)`, key); err != nil {
		return false, fmt.Errorf("store: advisory lock %d: %w", key, err)
	}
	return got, nil
}
