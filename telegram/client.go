package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultTimeout bounds a call when NewClient is given no http.Client.
const DefaultTimeout = 30 * time.Second

// maxAnswer bounds what is read of an answer.
const maxAnswer = 8 << 20

// Client calls the Bot API as one bot. It is safe for concurrent use and
// never retries.
type Client struct {
	base  string
	token string
	hc    *http.Client
}

// NewClient returns a client for the Bot API at baseURL
// (https://api.telegram.org; /bot<token>/<method> is appended). hc carries
// the timeouts; nil means a client with DefaultTimeout.
func NewClient(baseURL, token string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, hc: hc}
}

// GetMe returns the bot's own user.
func (c *Client) GetMe(ctx context.Context) (User, error) {
	var u User
	err := c.call(ctx, "getMe", struct{}{}, &u)
	return u, err
}

// SetWebhook points the bot's updates at url. secretToken ("" for none, else
// see ValidSecretToken) comes back in the X-Telegram-Bot-Api-Secret-Token
// header of every delivery. allowedUpdates nil keeps the previous setting;
// an empty non-nil slice means every update type except a few opt-in ones.
func (c *Client) SetWebhook(ctx context.Context, url, secretToken string, allowedUpdates []string) error {
	params := map[string]any{"url": url}
	if secretToken != "" {
		params["secret_token"] = secretToken
	}
	if allowedUpdates != nil {
		params["allowed_updates"] = allowedUpdates
	}
	var ok bool
	return c.call(ctx, "setWebhook", params, &ok)
}

// DeleteWebhook removes the webhook (pending updates are kept).
func (c *Client) DeleteWebhook(ctx context.Context) error {
	var ok bool
	return c.call(ctx, "deleteWebhook", struct{}{}, &ok)
}

// WebhookInfo is the answer of getWebhookInfo.
type WebhookInfo struct {
	URL                string   `json:"url"`
	PendingUpdateCount int      `json:"pending_update_count"`
	LastErrorDate      int64    `json:"last_error_date,omitempty"`
	LastErrorMessage   string   `json:"last_error_message,omitempty"`
	MaxConnections     int      `json:"max_connections,omitempty"`
	AllowedUpdates     []string `json:"allowed_updates,omitempty"`
}

// GetWebhookInfo reports the webhook and its last delivery error, for health
// checks.
func (c *Client) GetWebhookInfo(ctx context.Context) (WebhookInfo, error) {
	var w WebhookInfo
	err := c.call(ctx, "getWebhookInfo", struct{}{}, &w)
	return w, err
}

// SendMessage sends a plain text (no parse_mode) to a chat and returns the
// message as Telegram stored it.
func (c *Client) SendMessage(ctx context.Context, chatID int64, text string) (Message, error) {
	var m Message
	err := c.call(ctx, "sendMessage", map[string]any{"chat_id": chatID, "text": text}, &m)
	return m, err
}

// GetFile prepares a file for download; fetch it from FileURL(f.FilePath).
func (c *Client) GetFile(ctx context.Context, fileID string) (File, error) {
	var f File
	err := c.call(ctx, "getFile", map[string]string{"file_id": fileID}, &f)
	return f, err
}

// FileURL is where a file's bytes are downloaded. It contains the bot token:
// never log it.
func (c *Client) FileURL(filePath string) string {
	return c.base + "/file/bot" + c.token + "/" + strings.TrimLeft(filePath, "/")
}

// Download opens a file the Bot API keeps (GetFile's file_path). The caller
// closes the body. Its URL holds the token, so errors come redacted.
func (c *Client) Download(ctx context.Context, filePath string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.FileURL(filePath), nil)
	if err != nil {
		return nil, fmt.Errorf("telegram file: %s", c.redact(err.Error()))
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("telegram file: %w", c.redactErr(err))
	}
	return res, nil
}

// call POSTs params as JSON to the method and decodes the result.
func (c *Client) call(ctx context.Context, method string, params, result any) error {
	body, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("telegram %s: encode request: %w", method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/bot"+c.token+"/"+method, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("telegram %s: %s", method, c.redact(err.Error()))
	}
	req.Header.Set("Content-Type", "application/json")
	return c.exchange(req, method, result)
}

// exchange makes the request and reads the Bot API envelope into result.
func (c *Client) exchange(req *http.Request, method string, result any) error {
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("telegram %s: %w", method, c.redactErr(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("telegram %s: read answer: %w", method, c.redactErr(err))
	}
	var env struct {
		OK          bool            `json:"ok"`
		Result      json.RawMessage `json:"result"`
		ErrorCode   int             `json:"error_code"`
		Description string          `json:"description"`
		Parameters  struct {
			RetryAfter      int   `json:"retry_after"`
			MigrateToChatID int64 `json:"migrate_to_chat_id"`
		} `json:"parameters"`
	}
	if json.Unmarshal(raw, &env) != nil {
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return &Error{Code: resp.StatusCode, Description: statusText(resp.StatusCode, raw), Method: method}
		}
		return fmt.Errorf("telegram %s: the answer (%d) is not the Bot API envelope", method, resp.StatusCode)
	}
	if !env.OK && env.ErrorCode == 0 && resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return fmt.Errorf("telegram %s: the answer (%d) is not the Bot API envelope", method, resp.StatusCode)
	}
	if !env.OK {
		code := env.ErrorCode
		if code == 0 {
			code = resp.StatusCode
		}
		desc := env.Description
		if desc == "" {
			desc = statusText(code, nil)
		}
		return &Error{Code: code, Description: c.redact(desc), RetryAfter: env.Parameters.RetryAfter,
			MigrateToChatID: env.Parameters.MigrateToChatID, Method: method}
	}
	if result == nil {
		return nil
	}
	if err := json.Unmarshal(env.Result, result); err != nil {
		return fmt.Errorf("telegram %s: decode result: %w", method, err)
	}
	return nil
}

// redactErr keeps the token out of transport errors, whose text names the
// request URL.
func (c *Client) redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = c.redact(ue.URL)
	}
	return err
}

func (c *Client) redact(s string) string {
	if c.token == "" {
		return s
	}
	return strings.ReplaceAll(s, c.token, "<token>")
}

// statusText describes an answer that was not the envelope.
func statusText(code int, body []byte) string {
	text := http.StatusText(code)
	if text == "" {
		text = fmt.Sprintf("HTTP %d", code)
	}
	body = bytes.TrimSpace(body)
	if len(body) > 0 {
		if len(body) > 120 {
			body = body[:120]
			for len(body) > 0 && !utf8.Valid(body) {
				body = body[:len(body)-1]
			}
		}
		text += ": " + string(body)
	}
	return text
}
