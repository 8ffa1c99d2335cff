// Package storetest gives each test its own PostgreSQL database, cloned from a
// migrated template on the project-local cluster (scripts/pg), so tests run
// against the real schema, in parallel, without sharing state.
package storetest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // driver

	"github.com/relay24/relay24/migrations"
)

var (
	adminOnce sync.Once
	adminURL  string
	adminErr  error
	tmplOnce  sync.Once
	tmplName  string
	tmplErr   error
	counter   atomic.Int64
)

// ClusterURL is the URL of the test cluster's maintenance database: from
// RELAY24_TEST_DATABASE_URL, or the local cluster started by scripts/pg.
func ClusterURL(tb testing.TB) string {
	tb.Helper()
	adminOnce.Do(func() {
		if u := os.Getenv("RELAY24_TEST_DATABASE_URL"); u != "" {
			adminURL = u
			return
		}
		_, file, _, _ := runtime.Caller(0)
		script := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "pg")
		out, err := exec.Command("bash", script).Output()
		if err != nil {
			adminErr = fmt.Errorf("starting the local PostgreSQL (scripts/pg): %w", err)
			return
		}
		adminURL = withDB(strings.TrimSpace(string(out)), "postgres")
	})
	if adminErr != nil {
		tb.Fatal(adminErr)
	}
	return adminURL
}

// withDB swaps the database name in a PostgreSQL URL.
func withDB(base, name string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	u.Path = "/" + name
	return u.String()
}

// template creates (once per schema version, across test processes) a
// migrated database to clone.
func template(tb testing.TB) string {
	tb.Helper()
	tmplOnce.Do(func() {
		h := sha256.New()
		_ = fs.WalkDir(migrations.FS(), ".", func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				b, _ := fs.ReadFile(migrations.FS(), path)
				h.Write([]byte(path))
				h.Write(b)
			}
			return nil
		})
		name := "relay24_tmpl_" + hex.EncodeToString(h.Sum(nil))[:16]
		tmplErr = createTemplate(ClusterURL(tb), name)
		tmplName = name
	})
	if tmplErr != nil {
		tb.Fatal(tmplErr)
	}
	return tmplName
}

func createTemplate(admin, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db, err := sql.Open("postgres", admin)
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("storetest: connecting to %s: %w", admin, err)
	}
	defer conn.Close()
	// Test binaries of several packages run at once: one builds the template.
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(7224001)`); err != nil {
		return err
	}
	defer conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(7224001)`)
	var exists bool
	if err := conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	building := name + "_building"
	_, _ = conn.ExecContext(ctx, `DROP DATABASE IF EXISTS `+building)
	if _, err := conn.ExecContext(ctx, `CREATE DATABASE `+building); err != nil {
		return fmt.Errorf("storetest: creating template: %w", err)
	}
	tdb, err := sql.Open("postgres", withDB(admin, building))
	if err != nil {
		return err
	}
	err = migrations.Up(ctx, tdb, slog.New(slog.DiscardHandler))
	tdb.Close()
	if err != nil {
		return fmt.Errorf("storetest: migrating template: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `ALTER DATABASE `+building+` RENAME TO `+name); err != nil {
		return fmt.Errorf("storetest: renaming template: %w", err)
	}
	return nil
}

// URL creates a fresh migrated database for the test, dropped at cleanup,
// and returns its URL.
func URL(tb testing.TB) string {
	tb.Helper()
	admin := ClusterURL(tb)
	tmpl := template(tb)
	name := fmt.Sprintf("t_%d_%d", os.Getpid(), counter.Add(1))
	db, err := sql.Open("postgres", admin)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE DATABASE ` + name + ` TEMPLATE ` + tmpl); err != nil {
		tb.Fatalf("storetest: creating test database: %v", err)
	}
	tb.Cleanup(func() {
		db, err := sql.Open("postgres", admin)
		if err != nil {
			return
		}
		defer db.Close()
		_, _ = db.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
	})
	return withDB(admin, name)
}

// DB opens a fresh migrated database for the test.
func DB(tb testing.TB) *sqlx.DB {
	tb.Helper()
	db, err := sqlx.Open("postgres", URL(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}
