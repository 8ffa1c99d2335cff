package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/store"
)

// Media is an attachment ready to serve: a stream, or a URL to send the
// browser to.
type Media struct {
	Body        io.ReadCloser
	ContentType string
	Redirect    string
}

// maxMedia bounds a proxied file (the Bot API serves bots files up to 20 MB).
const maxMedia = 20 << 20

// OpenAttachment resolves attachment i of a message. A Telegram file is
// fetched with the bot's token (which must never reach the browser) and
// streamed; a gateway's public link is a redirect.
func (s *Service) OpenAttachment(ctx context.Context, m *store.Message, i int) (*Media, error) {
	var atts []Attachment
	if err := json.Unmarshal(m.Attachments, &atts); err != nil || i < 0 || i >= len(atts) {
		return nil, problem.New(problem.NotFound, "attachment_not_found", "attachment not found")
	}
	a := atts[i]
	fileID, isTelegram := strings.CutPrefix(a.URL, "tg-file:")
	if !isTelegram {
		if !strings.HasPrefix(a.URL, "https://") && !strings.HasPrefix(a.URL, "http://") {
			return nil, problem.New(problem.NotFound, "attachment_not_found", "attachment not found")
		}
		return &Media{Redirect: a.URL}, nil
	}
	ch, err := s.o.Store.ChannelByID(ctx, m.PortalID, m.ChannelID)
	if err != nil {
		return nil, err
	}
	g, err := s.o.Store.GatewayByID(ctx, ch.GatewayID)
	if err != nil {
		return nil, err
	}
	tok, err := s.o.Keys.Open(g.Credentials, credentialsContext(g.ID))
	if err != nil {
		return nil, fmt.Errorf("opening the bot token: %w", err)
	}
	c := s.telegram(tok)
	f, err := c.GetFile(ctx, fileID)
	if err != nil {
		return nil, gatewayProblem(err, "fetching the file from Telegram")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.FileURL(f.FilePath), nil)
	if err != nil {
		return nil, err
	}
	res, err := s.o.HTTP.Do(req)
	if err != nil {
		return nil, problem.Wrap(err, problem.Unavailable, "gateway_unavailable", "Telegram did not send the file")
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		return nil, problem.New(problem.Unavailable, "gateway_unavailable", "Telegram answered %d for the file", res.StatusCode)
	}
	ct := mime.TypeByExtension(path.Ext(f.FilePath))
	if ct == "" {
		ct = "application/octet-stream"
	}
	return &Media{Body: limitedBody{io.LimitReader(res.Body, maxMedia), res.Body}, ContentType: ct}, nil
}

type limitedBody struct {
	io.Reader
	io.Closer
}
