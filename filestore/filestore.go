// Package filestore holds the files users upload to send (CONTRACT §5.1):
// stored durably before the upload is answered, read back when the reply
// leaves. Storage is the small interface the rest of relay24 uses; Postgres
// keeps the bytes in the database (the default), and object storage can
// follow behind the same interface. Every file belongs to one portal and is
// only ever found with it.
package filestore

import (
	"context"
	"database/sql"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store"
)

// MaxSize is the channel-independent cap of an upload (25 MB); each
// channel may take less (checked when the file is sent).
const MaxSize = 25 << 20

// MaxName is the longest file name kept, in characters.
const MaxName = 200

// File is a stored file. Bytes is set by Get and given to Put.
type File struct {
	ID        int64
	PortalID  int64
	Name      string // sanitised: no directories, no control characters
	Type      string // MIME type decided from the content and the extension
	Size      int64
	Bytes     []byte
	CreatedBy int64 // the Bitrix24 user who uploaded it; 0 if none
	CreatedAt time.Time
	// Pending marks an upload to send: deleted (DeleteUnsent) unless a
	// reply takes it within UnsentTTL. Clients' files are never pending.
	Pending bool
}

// UnsentTTL is how long an upload waits for the reply that sends it.
const UnsentTTL = 24 * time.Hour

// Sweeper deletes the uploads no reply took: uploaded before cutoff and
// still pending. It answers how many it deleted.
type Sweeper interface {
	DeleteUnsent(ctx context.Context, cutoff time.Time) (int64, error)
}

// Storage keeps uploaded files. Get of another portal's file, or of a
// deleted one, is a problem.NotFound ("file_not_found").
type Storage interface {
	Put(ctx context.Context, f *File) error // sets f.ID, f.Size, f.CreatedAt
	Get(ctx context.Context, portalID, id int64) (*File, error)
	Delete(ctx context.Context, portalID, id int64) error
}

// Postgres is the Storage in relay24's own database (table files).
type Postgres struct{ Store *store.Store }

// NewPostgres is Storage on st.
func NewPostgres(st *store.Store) *Postgres { return &Postgres{Store: st} }

// Put stores f durably: when it returns nil, the row is committed.
func (p *Postgres) Put(ctx context.Context, f *File) error {
	if len(f.Bytes) == 0 {
		return problem.New(problem.Invalid, "empty_file", "the file is empty")
	}
	if len(f.Bytes) > MaxSize {
		return problem.New(problem.TooLarge, "file_too_large", "the file is over %d MB", MaxSize>>20)
	}
	row := &store.File{PortalID: f.PortalID, Name: f.Name, Type: f.Type, Bytes: f.Bytes,
		CreatedBy: sql.NullInt64{Int64: f.CreatedBy, Valid: f.CreatedBy != 0}, Pending: f.Pending}
	if err := p.Store.InsertFile(ctx, row); err != nil {
		return err
	}
	f.ID, f.Size, f.CreatedAt = row.ID, row.Size, row.CreatedAt
	return nil
}

// Get reads a portal's file with its bytes.
func (p *Postgres) Get(ctx context.Context, portalID, id int64) (*File, error) {
	row, err := p.Store.FileByID(ctx, portalID, id)
	if err != nil {
		return nil, err
	}
	return &File{ID: row.ID, PortalID: row.PortalID, Name: row.Name, Type: row.Type, Size: row.Size, Bytes: row.Bytes,
		CreatedBy: row.CreatedBy.Int64, CreatedAt: row.CreatedAt}, nil
}

// Delete removes a portal's file.
func (p *Postgres) Delete(ctx context.Context, portalID, id int64) error {
	return p.Store.DeleteFile(ctx, portalID, id)
}

// DeleteUnsent deletes the pending uploads stored before cutoff, in rounds
// of a thousand so no statement holds many rows locked.
func (p *Postgres) DeleteUnsent(ctx context.Context, cutoff time.Time) (int64, error) {
	var total int64
	for {
		n, err := p.Store.DeletePendingFiles(ctx, cutoff, 1000)
		total += n
		if err != nil || n < 1000 {
			return total, err
		}
	}
}

// CleanName is a client's file name as kept: its last path element (either
// slash), without control or format characters, invalid UTF-8 replaced,
// trimmed of spaces and dots at the ends, at most MaxName characters (the
// extension kept when it is cut). An empty result is "file".
func CleanName(name string) string {
	name = strings.ToValidUTF8(name, "_")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029' || r == utf8.RuneError {
			return -1
		}
		return r
	}, name)
	name = strings.Trim(name, " .")
	if utf8.RuneCountInString(name) > MaxName {
		ext := path.Ext(name)
		if utf8.RuneCountInString(ext) > 16 {
			ext = ""
		}
		base := []rune(strings.TrimSuffix(name, ext))
		name = string(base[:MaxName-utf8.RuneCountInString(ext)]) + ext
	}
	if name == "" {
		return "file"
	}
	return name
}

// extTypes are the types relay24 names by extension when the content alone
// does not tell (office documents are ZIP files, MP3 and M4A have no magic
// DetectContentType knows in every case). Fixed here, not read from the
// host's mime.types, so a file's type does not depend on the machine.
var extTypes = map[string]string{
	".pdf": "application/pdf", ".zip": "application/zip",
	".doc": "application/msword", ".xls": "application/vnd.ms-excel", ".ppt": "application/vnd.ms-powerpoint",
	".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	".txt":  "text/plain; charset=utf-8", ".csv": "text/csv",
	".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif", ".webp": "image/webp",
	".bmp": "image/bmp",
	".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".aac": "audio/aac", ".ogg": "audio/ogg", ".oga": "audio/ogg",
	".opus": "audio/ogg", ".amr": "audio/amr", ".wav": "audio/wav",
	".mp4": "video/mp4", ".webm": "video/webm",
}

// DetectType decides a file's MIME type from its content
// (http.DetectContentType), with the extension deciding only where the
// content is generic (application/octet-stream, a ZIP container, plain
// text) and the extension's type is of the same family. What a client's
// request header claimed is never used.
func DetectType(name string, data []byte) string {
	sniffed := http.DetectContentType(data)
	mt, _, _ := mime.ParseMediaType(sniffed)
	ext, hasExt := extTypes[strings.ToLower(path.Ext(name))]
	switch {
	case !hasExt:
		return sniffed
	case mt == "application/octet-stream":
		// No signature the sniffer knows: trust the extension only for
		// types whose content is not text a browser could take for a page.
		if !strings.HasPrefix(ext, "text/") {
			return ext
		}
	case mt == "application/zip" && strings.Contains(ext, "openxmlformats"):
		return ext // an office document is a ZIP container
	case mt == "text/plain" && strings.HasPrefix(ext, "text/"):
		return ext
	case mt == "audio/mpeg" && ext == "audio/mpeg", mt == "video/mp4" && ext == "audio/mp4":
		return ext // M4A sniffs as MP4
	case mt == "application/ogg" && ext == "audio/ogg":
		return ext // a voice message (Opus in Ogg) sniffs as the container
	}
	return sniffed
}

// Kind is the message kind of a file of this type: image, video, audio or
// document.
func Kind(mimeType string) string {
	mt, _, _ := mime.ParseMediaType(mimeType)
	switch {
	case strings.HasPrefix(mt, "image/"):
		return "image"
	case strings.HasPrefix(mt, "video/"):
		return "video"
	case strings.HasPrefix(mt, "audio/"):
		return "audio"
	}
	return "document"
}
