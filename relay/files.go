package relay

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/relay24/relay24/filestore"
	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store"
)

// fileURLPrefix marks an attachment that is an uploaded file of relay24's
// own storage: "file:<id>".
const fileURLPrefix = "file:"

// textSuffix makes the client id of the text that goes out after a file
// on a channel with no captions.
const textSuffix = "#text"

// SendFile accepts a reply with an uploaded file and an optional text: the
// file's message (and, where the channel takes no caption, the text's own
// message after it) and the send job are stored in one transaction; the
// same client id twice is one reply. The dialog's channel limits (type,
// size, caption) are checked here, before anything is accepted: a refusal
// is 400 with a code naming the limit.
func (s *Service) SendFile(ctx context.Context, portalID int64, author Author, dialogID, fileID int64, text, clientID string) (*store.Message, error) {
	text = strings.TrimSpace(text)
	if text != "" {
		if err := checkSendable(text); err != nil {
			return nil, err
		}
	}
	if s.o.Files == nil {
		return nil, problem.New(problem.Unavailable, "files_unavailable", "file storage is not configured")
	}
	t, err := s.replyTarget(ctx, portalID, dialogID, clientID, text)
	if err != nil {
		return nil, err
	}
	d, ch, clientID := t.d, t.ch, t.clientID
	f, err := s.o.Files.Get(ctx, portalID, fileID)
	if err != nil {
		return nil, err
	}
	gw, ok := s.adapter(ch.Provider)
	if !ok {
		return nil, problem.New(problem.Conflict, "channel_unavailable", "the channel %s cannot send now (state: %s)", ch.Name, ch.State)
	}
	// The channel's limits (channels.md §1.18 for Wazzup, §2.5 for a
	// Telegram bot) are its gateway's.
	plan, err := gw.PlanFile(target(d, ch), f, text)
	if err != nil {
		return nil, err
	}
	if err := t.writable(); err != nil {
		return nil, err
	}
	if err := s.checkWindow(t); err != nil {
		return s.repeatOr(ctx, t, err)
	}
	kind := filestore.Kind(f.Type)
	atts, _ := json.Marshal([]Attachment{{URL: fileURLPrefix + strconv.FormatInt(f.ID, 10), Type: kind, Name: f.Name}})
	caption := ""
	if plan.Caption {
		caption = text
	}
	var out *store.Message
	err = s.o.Store.Tx(ctx, func(tx *store.Store) error {
		m := &store.Message{PortalID: portalID, DialogID: d.ID, ChannelID: ch.ID, Direction: "out", ClientID: nullString(clientID),
			Kind: kind, Text: caption, Attachments: atts, AuthorID: nullInt(author.ID), AuthorName: author.Name, Status: "pending", SentAt: s.o.Now()}
		var err error
		out, err = s.acceptReply(ctx, tx, d, author, m, func(stored *store.Message, payload map[string]any) error {
			if text == "" || plan.Caption {
				return nil
			}
			// The text follows as its own message once the file has left
			// (its send job is enqueued with the file's outcome).
			tm := &store.Message{PortalID: portalID, DialogID: d.ID, ChannelID: ch.ID, Direction: "out", ClientID: nullString(clientID + textSuffix),
				Kind: "text", Text: text, AuthorID: nullInt(author.ID), AuthorName: author.Name, Status: "pending", SentAt: s.o.Now().Add(time.Microsecond)}
			ts, _, err := tx.InsertMessage(ctx, tm)
			if err != nil {
				return err
			}
			payload["then"] = ts.ID
			return s.afterMessage(ctx, tx, d, ts)
		})
		return err
	})
	return out, err
}

// Retry sends a failed reply again («Повторить»), text or file alike, as a
// new message whose client id is derived from the failed one
// (store.RetryClientID): asked twice (two clicks, two tabs, a reload), it
// sends once. The failed message stays as it was.
func (s *Service) Retry(ctx context.Context, portalID int64, author Author, old *store.Message) (*store.Message, error) {
	if old.Direction != "out" || old.Status != "error" {
		return nil, problem.New(problem.Conflict, "not_retriable", "only a reply that failed can be sent again")
	}
	if old.Kind == TemplateKind {
		// Its template and values went with its send job: it is chosen
		// again from the template list.
		return nil, problem.New(problem.Conflict, "template_not_retriable", "a template is sent again from the template list")
	}
	clientID := store.RetryClientID(old.ID)
	if len(old.Attachments) == 0 || string(old.Attachments) == "[]" || string(old.Attachments) == "null" {
		return s.Send(ctx, portalID, author, old.DialogID, old.Text, clientID)
	}
	fileID, _ := fileOf(old)
	if fileID == 0 {
		return nil, problem.New(problem.Conflict, "not_retriable", "this message's file cannot be sent again")
	}
	// The caption goes again with the file (where the channel takes none,
	// the text was a message of its own, retried on its own).
	return s.SendFile(ctx, portalID, author, old.DialogID, fileID, old.Text, clientID)
}

// fileOf is the uploaded file a message carries, 0 for none.
func fileOf(m *store.Message) (int64, string) {
	var atts []Attachment
	if json.Unmarshal(m.Attachments, &atts) != nil || len(atts) != 1 {
		return 0, ""
	}
	id, ok := strings.CutPrefix(atts[0].URL, fileURLPrefix)
	if !ok {
		return 0, ""
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return 0, ""
	}
	return n, atts[0].Name
}

// FileURL is the public, short-lived link to a portal's uploaded file that
// a gateway fetches (no session; its last path segment is the file's name).
func (s *Service) FileURL(portalID, fileID int64, name string) string {
	exp, sig := s.o.Links.FileLink(portalID, fileID)
	seg := url.PathEscape(name)
	if seg == "" {
		seg = "file"
	}
	return strings.TrimRight(s.o.PublicURL, "/") + "/files/" + strconv.FormatInt(fileID, 10) + "/" + seg +
		"?p=" + strconv.FormatInt(portalID, 10) + "&exp=" + exp + "&sig=" + sig
}
