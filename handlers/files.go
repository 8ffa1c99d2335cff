package handlers

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/relay24/relay24/filestore"
	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/session"
)

// uploadPath is the one route whose body may be larger than MaxBody.
const uploadPath = "/api/v1/files"

// maxUploadBody is the largest multipart body of an upload: the file cap
// plus room for the part headers and a boundary.
const maxUploadBody = filestore.MaxSize + 64<<10

// File is CONTRACT §5.1's uploaded file.
type File struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Size int64  `json:"size"`
	Type string `json:"type"`
}

func fileTooLarge() error {
	return problem.New(problem.TooLarge, "file_too_large", "the file is over %d MB", filestore.MaxSize>>20)
}

// uploadFile stores the multipart part "file" durably and answers 201. The
// cap is enforced while reading; the name is the client's, sanitised; the
// type is decided from the bytes and the extension, never from the
// client's header alone.
func (h *Handlers) uploadFile(c echo.Context) error {
	cl := caller(c)
	r := c.Request()
	if r.ContentLength > maxUploadBody {
		return fileTooLarge()
	}
	r.Body = http.MaxBytesReader(c.Response(), r.Body, maxUploadBody)
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return problem.New(problem.Invalid, "not_multipart", "send the file as multipart/form-data in the field \"file\"")
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return problem.Wrap(err, problem.Invalid, "not_multipart", "send the file as multipart/form-data in the field \"file\"")
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return problem.New(problem.Invalid, "no_file", "the request has no field \"file\"")
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return fileTooLarge()
			}
			return problem.Wrap(err, problem.Invalid, "bad_multipart", "the multipart body could not be read")
		}
		if part.FormName() != "file" {
			_ = part.Close()
			continue
		}
		var buf bytes.Buffer
		n, err := io.Copy(&buf, io.LimitReader(part, filestore.MaxSize+1))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return fileTooLarge()
			}
			return problem.Wrap(err, problem.Invalid, "bad_multipart", "the file could not be read")
		}
		if n > filestore.MaxSize {
			return fileTooLarge()
		}
		if n == 0 {
			return problem.New(problem.Invalid, "empty_file", "the file is empty")
		}
		name := filestore.CleanName(part.FileName())
		f := &filestore.File{PortalID: cl.Portal.ID, Name: name, Type: filestore.DetectType(name, buf.Bytes()),
			Bytes: buf.Bytes(), CreatedBy: cl.User.ID, Pending: true}
		if err := h.Files.Put(r.Context(), f); err != nil {
			return err
		}
		return c.JSON(http.StatusCreated, map[string]any{"file": File{ID: f.ID, Name: f.Name, Size: f.Size, Type: f.Type}})
	}
}

// publicFile serves an uploaded file to whoever holds its short-lived
// signed link (relay.Service.FileURL): a gateway that fetches a file to send
// it (Wazzup's contentUri). No session, no redirect; the exact bytes, typed
// as stored, always as a download, under the same headers as every file
// answer. A link that does not match is 404, as a missing file is; a
// genuine one past its expiry is 403 link_expired.
func (h *Handlers) publicFile(c echo.Context) error {
	fileHeaders(c.Response().Header())
	notFound := problem.New(problem.NotFound, "file_not_found", "file not found")
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return notFound
	}
	portalID, err := strconv.ParseInt(c.QueryParam("p"), 10, 64)
	if err != nil || portalID <= 0 {
		return notFound
	}
	if err := h.Sessions.CheckFileLink(portalID, id, c.QueryParam("exp"), c.QueryParam("sig")); errors.Is(err, session.ErrExpired) {
		return problem.Wrap(err, problem.Forbidden, "link_expired", "the link has expired")
	} else if err != nil {
		return notFound
	}
	ctx := c.Request().Context()
	p, err := h.Store.PortalByID(ctx, portalID)
	if problem.Is(err, problem.NotFound) {
		return notFound
	} else if err != nil {
		return err
	}
	if !p.Active() {
		return notFound
	}
	f, err := h.Files.Get(ctx, portalID, id)
	if problem.Is(err, problem.NotFound) {
		return notFound
	} else if err != nil {
		return err
	}
	hd := c.Response().Header()
	hd.Set("Content-Disposition", contentDisposition("attachment", f.Name))
	hd.Set("Content-Length", strconv.Itoa(len(f.Bytes)))
	return c.Blob(http.StatusOK, f.Type, f.Bytes)
}
