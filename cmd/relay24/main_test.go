package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestVersionAndUnknownCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"version"}, func(string) string { return "" }, &out, &errOut); err != nil || !strings.HasPrefix(out.String(), "relay24 ") {
		t.Fatalf("version: %v %q", err, out.String())
	}
	if err := run(context.Background(), []string{"frobnicate"}, func(string) string { return "" }, &out, &errOut); err == nil {
		t.Fatal("unknown command accepted")
	}
}

// Start-up with missing configuration stops with one line per problem.
func TestServeRefusesMissingConfiguration(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"serve"}, func(k string) string {
		return map[string]string{"DATABASE_URL": "postgres://nowhere/db"}[k]
	}, &out, &errOut)
	if err == nil {
		t.Fatal("serve started without credentials")
	}
	lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
	want := []string{"B24_CLIENT_ID", "B24_CLIENT_SECRET", "SECRET_KEY"}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), errOut.String())
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %d %q does not name %s", i, lines[i], w)
		}
	}
}

// serve without DATABASE_URL falls back to scripts/pg's cluster, which runs
// with fsync off: it says so; with DATABASE_URL set it does not.
func TestServeWarnsOfTheDevelopmentCluster(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // serve stops at the database; the warning comes before it
	env := map[string]string{"B24_CLIENT_ID": "app.1", "B24_CLIENT_SECRET": "s", "SECRET_KEY": strings.Repeat("ab", 32),
		"LISTEN_ADDR": "127.0.0.1:0"}
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"serve"}, func(k string) string { return env[k] }, &out, &errOut); err == nil {
		t.Fatal("serve ran on a cancelled context")
	}
	if !strings.Contains(errOut.String(), "development cluster") {
		t.Fatalf("no warning of the development cluster:\n%s", errOut.String())
	}
	env["DATABASE_URL"] = "postgres://db.example/relay24"
	errOut.Reset()
	_ = run(ctx, []string{"serve"}, func(k string) string { return env[k] }, &out, &errOut)
	if strings.Contains(errOut.String(), "development cluster") {
		t.Fatalf("warned with DATABASE_URL set:\n%s", errOut.String())
	}
}
