package filestore_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/relay24/relay24/filestore"
	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store"
	"github.com/relay24/relay24/store/storetest"
)

func portal(t *testing.T, s *store.Store, member string) int64 {
	t.Helper()
	p, err := s.UpsertInstall(context.Background(), store.Install{
		MemberID: member, Domain: member + ".bitrix24.example", ClientEndpoint: "https://" + member + ".bitrix24.example/rest/",
		AccessToken:    func(int64) []byte { return []byte("sealed-access") },
		RefreshToken:   func(int64) []byte { return []byte("sealed-refresh") },
		TokenExpiresAt: time.Now().Add(time.Hour), TokenUserID: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p.ID
}

// Files are kept per portal: another portal's id is not found, a deleted
// file is gone, and the bytes come back exactly.
func TestPostgresStorage(t *testing.T) {
	ctx := context.Background()
	st := store.New(storetest.DB(t))
	var fs filestore.Storage = filestore.NewPostgres(st)
	a, b := portal(t, st, "fs-a"), portal(t, st, "fs-b")
	data := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte{0, 1, 2, 0xff}, 1000)...)
	f := &filestore.File{PortalID: a, Name: "price.pdf", Type: "application/pdf", Bytes: data, CreatedBy: 7}
	if err := fs.Put(ctx, f); err != nil {
		t.Fatal(err)
	}
	if f.ID == 0 || f.Size != int64(len(data)) || f.CreatedAt.IsZero() {
		t.Fatalf("stored %+v", f)
	}
	got, err := fs.Get(ctx, a, f.ID)
	if err != nil || !bytes.Equal(got.Bytes, data) || got.Name != "price.pdf" || got.Type != "application/pdf" || got.CreatedBy != 7 {
		t.Fatalf("get: %v %+v", err, got)
	}
	if _, err := fs.Get(ctx, b, f.ID); !problem.Is(err, problem.NotFound) {
		t.Fatalf("another portal's file: %v", err)
	}
	if err := fs.Delete(ctx, b, f.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Get(ctx, a, f.ID); err != nil {
		t.Fatalf("another portal's delete removed the file: %v", err)
	}
	if err := fs.Delete(ctx, a, f.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Get(ctx, a, f.ID); !problem.Is(err, problem.NotFound) {
		t.Fatalf("deleted file: %v", err)
	}
	if err := fs.Put(ctx, &filestore.File{PortalID: a, Name: "x", Type: "text/plain"}); err == nil {
		t.Fatal("an empty file was stored")
	}
	if err := fs.Put(ctx, &filestore.File{PortalID: a, Name: "x", Type: "text/plain", Bytes: make([]byte, filestore.MaxSize+1)}); !problem.Is(err, problem.TooLarge) {
		t.Fatalf("over the cap: %v", err)
	}
}

func TestCleanName(t *testing.T) {
	long := strings.Repeat("я", 300) + ".pdf"
	for in, want := range map[string]string{
		"price.pdf":                   "price.pdf",
		"../../etc/passwd":            "passwd",
		`C:\Users\me\Прайс 2026.xlsx`: "Прайс 2026.xlsx",
		"bad\x00na\x1bme\u202e.txt":   "badname.txt",
		"  .hidden. ":                 "hidden",
		"":                            "file",
		"/":                           "file",
		"inv\xffalid.png":             "inv_alid.png",
	} {
		if got := filestore.CleanName(in); got != want {
			t.Errorf("CleanName(%q) = %q, want %q", in, got, want)
		}
	}
	got := filestore.CleanName(long)
	if n := len([]rune(got)); n != filestore.MaxName || !strings.HasSuffix(got, ".pdf") {
		t.Errorf("long name: %d characters, %q", n, got[len(got)-10:])
	}
}

func TestDetectType(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	zip := []byte("PK\x03\x04\x14\x00\x00\x00")
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"photo.png", png, "image/png"},
		{"photo.jpg", png, "image/png"}, // the content wins over the extension
		{"photo", png, "image/png"},
		{"voice.ogg", []byte("OggS\x00\x02\x00\x00"), "audio/ogg"},
		{"voice.opus", []byte("OggS\x00\x02\x00\x00"), "audio/ogg"},
		{"clip", []byte("OggS\x00\x02\x00\x00"), "application/ogg"},
		{"price.pdf", []byte("%PDF-1.7\n"), "application/pdf"},
		{"report.docx", zip, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
		{"archive.zip", zip, "application/zip"},
		{"page.pdf", []byte("<html><script>alert(1)</script>"), "text/html; charset=utf-8"}, // never a PDF by its name alone
		{"notes.txt", []byte("hello"), "text/plain; charset=utf-8"},
		{"data.bin", []byte{0, 1, 2, 3}, "application/octet-stream"},
		{"sheet.xlsx", []byte{0, 1, 2, 3}, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
	} {
		if got := filestore.DetectType(c.name, c.data); got != c.want {
			t.Errorf("DetectType(%q) = %q, want %q", c.name, got, c.want)
		}
	}
	for mt, want := range map[string]string{"image/png": "image", "video/mp4": "video", "audio/ogg": "audio", "application/pdf": "document", "": "document"} {
		if got := filestore.Kind(mt); got != want {
			t.Errorf("Kind(%q) = %q, want %q", mt, got, want)
		}
	}
}
