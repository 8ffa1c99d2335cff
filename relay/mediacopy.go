package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/relay24/relay24/filestore"
	"github.com/relay24/relay24/gateway"
	"github.com/relay24/relay24/jobs"
	"github.com/relay24/relay24/netguard"
	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store"
)

// A gateway's link to a client's file expires, and opens to anyone who
// holds it. So each file of a message that arrives is copied into relay24's
// own storage (filestore) by a media.copy job, and served from there to the
// portal's users only (the signed attachment route). Until it is copied the
// attachment is served as before; a download that fails marks it
// unavailable, and the job retries.

// JobMediaCopy copies the files of one filed message (unique per message).
const JobMediaCopy = "media.copy"

// mediaCopyAttempts bounds the downloads of a message's files: with the
// queue's backoff the last one comes about a minute after the first.
const mediaCopyAttempts = 6

// mediaTimeout bounds one download from a gateway.
const mediaTimeout = 60 * time.Second

func mediaKey(messageID int64) string { return "media:" + itoa(messageID) }

// mediaCopySpec is the job that copies a new message's files.
func mediaCopySpec(m *store.Message) jobs.Spec {
	return jobs.Spec{Kind: JobMediaCopy, Payload: map[string]int64{"message_id": m.ID},
		Options: jobs.Options{PortalID: m.PortalID, UniqueKey: mediaKey(m.ID), MaxAttempts: mediaCopyAttempts}}
}

// needsCopy reports whether an attachment is still a gateway's file.
func needsCopy(a Attachment) bool {
	return a.URL != "" && !strings.HasPrefix(a.URL, fileURLPrefix)
}

// hasGatewayFiles reports whether any attachment still needs its copy.
func hasGatewayFiles(atts []Attachment) bool {
	for _, a := range atts {
		if needsCopy(a) {
			return true
		}
	}
	return false
}

// copiedFiles are the ids of the files copied from a gateway into relay24's
// storage among a message's attachments (a user's uploads are not among
// them: those belong to the reply that sent them).
func copiedFiles(raw json.RawMessage) []int64 {
	var atts []Attachment
	if json.Unmarshal(raw, &atts) != nil {
		return nil
	}
	var ids []int64
	for _, a := range atts {
		if id, ok := strings.CutPrefix(a.URL, fileURLPrefix); ok && a.Source != "" {
			if n, err := strconv.ParseInt(id, 10, 64); err == nil {
				ids = append(ids, n)
			}
		}
	}
	return ids
}

// dropFiles deletes copied files that no message refers to any more. A
// failure is logged: the file is then only a row that nothing serves.
func (s *Service) dropFiles(ctx context.Context, portalID int64, ids []int64) {
	if s.o.Files == nil {
		return
	}
	for _, id := range ids {
		if err := s.o.Files.Delete(ctx, portalID, id); err != nil && !problem.Is(err, problem.NotFound) {
			s.log().WarnContext(ctx, "dropping a copied file", slog.Int64("file_id", id), slog.String("error", err.Error()))
		}
	}
}

func (s *Service) log() *slog.Logger {
	if s.o.Log != nil {
		return s.o.Log
	}
	return slog.Default()
}

// copyFailure is why a download failed; a permanent one is not tried again.
type copyFailure struct {
	reason    string
	permanent bool
	err       error
}

func (f *copyFailure) Error() string {
	if f.err != nil {
		return f.reason + ": " + f.err.Error()
	}
	return f.reason
}

func (f *copyFailure) Unwrap() error { return f.err }

func permanentFailure(reason string, err error) *copyFailure {
	return &copyFailure{reason: reason, permanent: true, err: err}
}

func temporaryFailure(reason string, err error) *copyFailure {
	return &copyFailure{reason: reason, err: err}
}

// copyOutcome is one attachment's download.
type copyOutcome struct {
	url     string // the gateway's link it was downloaded from
	fileID  int64  // the stored copy, 0 on failure
	failure *copyFailure
}

// mediaCopyJob downloads a message's gateway files, stores them with
// filestore and points the attachments at the copies. A failed download
// marks its attachment unavailable (with the reason) and the job is retried;
// the message itself is never held back by its files.
func (s *Service) mediaCopyJob(ctx context.Context, j *jobs.Job) error {
	var p struct {
		MessageID int64 `json:"message_id"`
	}
	if err := j.Decode(&p); err != nil {
		return jobs.Permanent(err)
	}
	if s.o.Files == nil {
		return nil
	}
	m, err := s.o.Store.MessageByID(ctx, p.MessageID)
	if problem.Is(err, problem.NotFound) {
		return nil
	} else if err != nil {
		return err
	}
	var atts []Attachment
	if err := json.Unmarshal(m.Attachments, &atts); err != nil {
		return jobs.Permanent(fmt.Errorf("attachments of message %d: %w", m.ID, err))
	}
	outcomes := map[int]copyOutcome{}
	for i, a := range atts {
		if !needsCopy(a) {
			continue
		}
		o := copyOutcome{url: a.URL}
		f, fail := s.fetchAttachment(ctx, m, a)
		if fail == nil {
			f.PortalID = m.PortalID
			if err := s.o.Files.Put(ctx, f); problem.Is(err, problem.TooLarge) || problem.Is(err, problem.Invalid) {
				fail = permanentFailure("the file cannot be kept", err)
			} else if err != nil {
				fail = temporaryFailure("the file could not be stored", err)
			} else {
				o.fileID = f.ID
			}
		}
		o.failure = fail
		outcomes[i] = o
	}
	if len(outcomes) == 0 {
		return nil
	}
	if err := s.recordCopies(ctx, m.ID, outcomes); err != nil {
		return err
	}
	var retry []string
	for _, o := range outcomes {
		if o.failure != nil && !o.failure.permanent {
			retry = append(retry, o.failure.Error())
		}
	}
	if len(retry) > 0 {
		return fmt.Errorf("copying the files of message %d: %s", m.ID, strings.Join(retry, "; "))
	}
	return nil
}

// recordCopies writes the downloads' outcomes under the message's row lock:
// an attachment that changed meanwhile (an edit, a deletion) keeps its new
// state, and the copy made for its old one is dropped.
func (s *Service) recordCopies(ctx context.Context, messageID int64, outcomes map[int]copyOutcome) error {
	var orphans []int64
	var portalID int64
	err := s.o.Store.Tx(ctx, func(tx *store.Store) error {
		orphans = orphans[:0]
		m, err := tx.LockMessage(ctx, messageID)
		if err != nil {
			return err
		}
		portalID = m.PortalID
		var atts []Attachment
		if err := json.Unmarshal(m.Attachments, &atts); err != nil {
			return jobs.Permanent(err)
		}
		changed := false
		for i, o := range outcomes {
			if i >= len(atts) || atts[i].URL != o.url {
				if o.fileID != 0 {
					orphans = append(orphans, o.fileID)
				}
				continue
			}
			a := &atts[i]
			if o.fileID != 0 {
				a.Source, a.URL, a.Unavailable, a.Reason = o.url, fileURLPrefix+itoa(o.fileID), false, ""
			} else {
				a.Unavailable, a.Reason = true, o.failure.reason
			}
			changed = true
		}
		if !changed {
			return nil
		}
		b, err := json.Marshal(atts)
		if err != nil {
			return err
		}
		if err := tx.SetAttachments(ctx, m.ID, b); err != nil {
			return err
		}
		return tx.Notify(ctx, store.Event{PortalID: m.PortalID, Type: "message.updated", DialogID: m.DialogID, MessageID: m.ID})
	})
	if err != nil {
		// Nothing refers to the copies: they go, and the next attempt
		// downloads again.
		var ids []int64
		for _, o := range outcomes {
			if o.fileID != 0 {
				ids = append(ids, o.fileID)
			}
		}
		if portalID == 0 {
			if m, merr := s.o.Store.MessageByID(ctx, messageID); merr == nil {
				portalID = m.PortalID
			}
		}
		if portalID != 0 {
			s.dropFiles(context.WithoutCancel(ctx), portalID, ids)
		}
		return err
	}
	s.dropFiles(ctx, portalID, orphans)
	return nil
}

// fetchAttachment downloads a gateway's file: one only its gateway opens (a
// Telegram bot's, by its file id with the bot's token) through the adapter;
// any other by its public link (mediaGet).
func (s *Service) fetchAttachment(ctx context.Context, m *store.Message, a Attachment) (*filestore.File, *copyFailure) {
	var (
		body []byte
		name string
		fail *copyFailure
	)
	if gw, ok := s.adapters.ForFileRef(a.URL); ok {
		body, name, fail = s.fetchGatewayFile(ctx, m, gw, a.URL)
		if fail != nil {
			return nil, fail
		}
		if a.Name != "" && a.Name != a.Type {
			name = a.Name
		}
	} else {
		body, fail = s.mediaGet(ctx, a.URL)
		if fail != nil {
			return nil, fail
		}
		name = a.Name
		if name == "" {
			name = a.Type
		}
	}
	name = filestore.CleanName(name)
	// The type is the content's (and the name's), never what the gateway's
	// server said.
	return &filestore.File{Name: name, Type: filestore.DetectType(name, body), Bytes: body}, nil
}

// readCapped reads a download up to filestore's cap.
func readCapped(r io.Reader, declared int64) ([]byte, *copyFailure) {
	if declared > filestore.MaxSize {
		return nil, permanentFailure(fmt.Sprintf("the file is over %d MB", filestore.MaxSize>>20), nil)
	}
	b, err := io.ReadAll(io.LimitReader(r, filestore.MaxSize+1))
	if err != nil {
		return nil, temporaryFailure("the download was cut off", err)
	}
	if len(b) > filestore.MaxSize {
		return nil, permanentFailure(fmt.Sprintf("the file is over %d MB", filestore.MaxSize>>20), nil)
	}
	if len(b) == 0 {
		return nil, temporaryFailure("the gateway sent an empty file", nil)
	}
	return b, nil
}

// fetchGatewayFile downloads a file only its gateway opens and names it by
// the gateway's path.
func (s *Service) fetchGatewayFile(ctx context.Context, m *store.Message, gw gateway.Gateway, ref string) ([]byte, string, *copyFailure) {
	d, err := s.openGatewayFile(ctx, m, gw, ref)
	if err != nil {
		var ae *gateway.AttachmentError
		switch {
		case errors.As(err, &ae) && ae.Permanent:
			return nil, "", permanentFailure(ae.Reason, ae.Err)
		case errors.As(err, &ae):
			return nil, "", temporaryFailure(ae.Reason, ae.Err)
		case problem.Is(err, problem.NotFound):
			return nil, "", permanentFailure("the channel is gone", err)
		}
		return nil, "", temporaryFailure("the gateway could not be read", err)
	}
	defer d.Body.Close()
	b, fail := readCapped(d.Body, d.Size)
	name := path.Base(d.Path)
	if name == "." || name == "/" {
		name = ""
	}
	return b, name, fail
}

// openGatewayFile opens a file only its gateway opens (gw's
// Traits.FileRefPrefix), with the credential of the message's gateway.
func (s *Service) openGatewayFile(ctx context.Context, m *store.Message, gw gateway.Gateway, ref string) (*gateway.Download, error) {
	ch, err := s.o.Store.ChannelByID(ctx, m.PortalID, m.ChannelID)
	if err != nil {
		return nil, err
	}
	g, err := s.o.Store.GatewayByID(ctx, ch.GatewayID)
	if err != nil {
		return nil, err
	}
	if g.Provider != gw.Provider() {
		// Another gateway's message carrying such a reference: its
		// credential is never handed to this one.
		return nil, problem.New(problem.NotFound, "attachment_not_found", "attachment not found")
	}
	cred, err := s.credential(g)
	if err != nil {
		return nil, err
	}
	return gw.OpenAttachment(ctx, cred, ref)
}

// errRefusedAddress is a link to an address relay24 does not fetch from.
var errRefusedAddress = netguard.ErrRefused

// mediaGet downloads a client's file by the gateway's link. The link comes
// from a client's message, so it is fetched as a hostile one: http(s)
// only, no credentials in it, never to a loopback, private, link-local or
// otherwise non-public address (checked on the address actually dialled,
// so a name that resolves there is refused too) unless it is the
// configured Wazzup API's own host, no redirect to another host, within a
// timeout and filestore's cap.
func (s *Service) mediaGet(ctx context.Context, raw string) ([]byte, *copyFailure) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return nil, permanentFailure("the gateway's link is not one relay24 fetches", nil)
	}
	ctx, cancel := context.WithTimeout(ctx, mediaTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, permanentFailure("the gateway's link is not one relay24 fetches", err)
	}
	res, err := s.mediaHTTP.Do(req)
	if errors.Is(err, errRefusedAddress) {
		return nil, permanentFailure("the gateway's link points to a private address", nil)
	}
	if errors.Is(err, errForeignRedirect) {
		return nil, permanentFailure("the gateway's link redirects to another host", nil)
	}
	if err != nil {
		return nil, temporaryFailure("the gateway did not send the file", errors.Unwrap(err))
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, temporaryFailure(fmt.Sprintf("the gateway answered %d for the file", res.StatusCode), nil)
	}
	return readCapped(res.Body, res.ContentLength)
}

var errForeignRedirect = errors.New("a redirect to another host")

// newMediaClient is the HTTP client of mediaGet: trusted is the host:port
// of the configured Wazzup API, the one non-public address it may reach
// (the emulator in tests and demos).
func newMediaClient(trusted string) *http.Client {
	d := &netguard.Dialer{Dialer: &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second},
		Trusted: netguard.TrustOnly(trusted)}
	return &http.Client{
		Timeout: mediaTimeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           d.DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("too many redirects")
			}
			if !strings.EqualFold(req.URL.Host, via[0].URL.Host) || (req.URL.Scheme != "https" && req.URL.Scheme != "http") {
				return errForeignRedirect
			}
			return nil
		},
	}
}

// hostPort is a URL's host:port, its scheme's port when it names none.
func hostPort(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return netguard.HostPort(u)
}

// publicAddr reports whether an address is one on the public internet.
var publicAddr = netguard.Public
