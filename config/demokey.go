package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// DemoKeyFile is the name of the demo's SECRET_KEY file in DEMO_DATA_DIR.
const DemoKeyFile = "demo-secret-key"

// demoKey reads the demo's key from path, or creates it (32 random bytes,
// hex, mode 0600) on the first run. Creation is exclusive: of two demos
// starting at once, both end up with the key the first one wrote.
func demoKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := createDemoKey(path); err != nil {
			return nil, err
		}
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the demo's key: %w", err)
	}
	key, err := decodeKey(string(b))
	if err != nil {
		// Replacing it would make everything the demo sealed unreadable:
		// the person decides.
		return nil, fmt.Errorf("%s is not a key (%v); delete it together with the demo's database to start afresh", path, err)
	}
	return key, nil
}

// createDemoKey writes a new key to a temporary file and links it into
// place, so no reader ever sees a half-written key and an existing key is
// never replaced.
func createDemoKey(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating the directory of the demo's key: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return fmt.Errorf("generating the demo's key: %w", err)
	}
	tmp, err := os.CreateTemp(dir, DemoKeyFile+".*")
	if err != nil {
		return fmt.Errorf("creating the demo's key: %w", err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file 0600 already; say so for whoever reads this.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("creating the demo's key: %w", err)
	}
	if _, err := tmp.WriteString(hex.EncodeToString(raw) + "\n"); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the demo's key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the demo's key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing the demo's key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("storing the demo's key: %w", err)
	}
	return nil
}
