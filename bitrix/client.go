package bitrix

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// Tokens gives the client a portal's access token and refreshes it. Refresh
// is told which token failed, so that of several callers that saw the same
// expired token only one asks the OAuth server and the rest get its result.
type Tokens interface {
	AccessToken(ctx context.Context) (string, error)
	Refresh(ctx context.Context, expired string) (string, error)
}

// Options configure a Client.
type Options struct {
	// Endpoint is the portal's client_endpoint, e.g. https://x.bitrix24.ru/rest/.
	Endpoint string
	Tokens   Tokens
	// HTTP is the client for this portal; it should have its own timeouts.
	HTTP *http.Client
	// Pacer paces requests to the portal and is shared by every Client of
	// it; nil gives this client a pacer of its own at the documented limits.
	Pacer *Pacer
	// CallTimeout bounds one HTTP request; the caller's context bounds the whole call.
	CallTimeout time.Duration
	// Retries is how many times a temporary failure is retried (default 5).
	Retries int
	// BaseDelay is the first backoff (default 500ms; doubles, with jitter, up to MaxDelay 20s).
	BaseDelay, MaxDelay time.Duration
	// MaxPause is the longest pause after QUERY_LIMIT_EXCEEDED a call waits
	// out itself (default 5s). A longer one ends the call with the refusal
	// and the pause as Error.RetryAfter, so that a worker or a waiting user
	// is not held for long; the caller comes back later.
	MaxPause time.Duration
	Log      *slog.Logger
	// Observe, when set, is told of every HTTP request made (method, outcome code).
	Observe func(method, outcome string, took time.Duration)
	// Commands, when set, is told how many REST commands each request the
	// portal answered carried (1 for a plain call, a batch's count).
	Commands func(n int)
}

// Client calls one portal's REST API.
type Client struct {
	o Options
}

// NewClient makes a client; zero options get sensible defaults.
func NewClient(o Options) *Client {
	if o.HTTP == nil {
		o.HTTP = &http.Client{Timeout: 60 * time.Second}
	}
	if o.CallTimeout == 0 {
		o.CallTimeout = 60 * time.Second // the cloud's own per-request limit
	}
	if o.Retries == 0 {
		o.Retries = 5
	}
	if o.BaseDelay == 0 {
		o.BaseDelay = 500 * time.Millisecond
	}
	if o.MaxDelay == 0 {
		o.MaxDelay = 20 * time.Second
	}
	if o.MaxPause == 0 {
		o.MaxPause = 5 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Pacer == nil {
		o.Pacer = NewPacer(DefaultBurst, DefaultPerSecond)
	}
	if !strings.HasSuffix(o.Endpoint, "/") {
		o.Endpoint += "/"
	}
	return &Client{o: o}
}

// Pacer is the pacer the client's requests wait on.
func (c *Client) Pacer() *Pacer { return c.o.Pacer }

// Params are a REST method's parameters.
type Params = map[string]any

// envelope is the portal's answer to any REST request.
type envelope struct {
	Result           json.RawMessage `json:"result"`
	Next             *int            `json:"next"`
	Total            *int            `json:"total"`
	Error            string          `json:"error"`
	ErrorDescription string          `json:"error_description"`
	Time             json.RawMessage `json:"time"`
}

// answerTime is the part of an answer's "time" the client uses: when the
// method's time budget frees up, on the portal's clock (limits.md).
type answerTime struct {
	Finish           float64 `json:"finish"`
	OperatingResetAt float64 `json:"operating_reset_at"`
}

// parseTime reads an answer's "time"; one it cannot read (absent, or of
// another shape) only means the answer told nothing about the budget.
func parseTime(raw json.RawMessage) *answerTime {
	var t answerTime
	if len(raw) == 0 || json.Unmarshal(raw, &t) != nil {
		return nil
	}
	return &t
}

// resetIn is how long after the answer the method's time budget frees up;
// 0 when the answer does not say.
func (t *answerTime) resetIn() time.Duration {
	if t == nil || t.OperatingResetAt <= 0 || t.Finish <= 0 || t.OperatingResetAt <= t.Finish {
		return 0
	}
	return time.Duration((t.OperatingResetAt - t.Finish) * float64(time.Second))
}

// Response is a successful answer with its paging fields.
type Response struct {
	Result json.RawMessage
	Next   *int
	Total  *int
}

// Call runs one REST method and decodes its result into out (which may be nil).
func (c *Client) Call(ctx context.Context, method string, params Params, out any) error {
	resp, err := c.Do(ctx, method, params)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(resp.Result, out); err != nil {
		return fmt.Errorf("bitrix24 %s: decoding result: %w", method, err)
	}
	return nil
}

// Do runs one REST method, retrying what may be retried: the rate limit
// (the portal did not run the method) after the pause the shared pacer
// imposes, if it is at most MaxPause; server errors and network failures
// only for read methods (a write might have happened); an expired token once
// after a refresh. A method blocked for its time budget
// (OPERATION_TIME_LIMIT) is not retried here: it stays blocked for minutes,
// so the error says how long (Error.RetryAfter) and the caller comes back
// later.
//
// Under a Coalescer's Join the call is sent with the other calls of its
// group, in one batch request.
func (c *Client) Do(ctx context.Context, method string, params Params) (*Response, error) {
	if pt, ok := partyOf(ctx); ok {
		p := &pending{c: c, cmds: []Command{{Method: method, Params: params}}, single: true}
		if err := pt.co.submit(ctx, pt.i, p); err != nil {
			return nil, err
		}
		return p.resp, nil
	}
	return c.do(ctx, method, params, readOnly(method))
}

// do is Do with the caller's word on whether an ambiguous failure may be retried.
func (c *Client) do(ctx context.Context, method string, params Params, safe bool) (*Response, error) {
	refreshed := false
	var lastErr error
	for attempt := 0; ; attempt++ {
		if left, blocked := c.o.Pacer.blockedFor(method); blocked {
			// Asking again would only add to the rate-limit counter.
			return nil, &Error{Code: CodeOperationTimeLimit, Status: http.StatusTooManyRequests, Method: method,
				Description: "not sent: the portal blocked the method for its time budget", RetryAfter: left}
		}
		token, err := c.o.Tokens.AccessToken(ctx)
		if err != nil {
			return nil, fmt.Errorf("bitrix24 %s: access token: %w", method, err)
		}
		tk, err := c.o.Pacer.wait(ctx, c.o.MaxPause)
		var paused *pausedError
		var busy *busyError
		if errors.As(err, &busy) {
			return nil, busy.asError(method)
		}
		if errors.As(err, &paused) {
			return nil, &Error{Code: CodeQueryLimitExceeded, Status: http.StatusServiceUnavailable, Method: method,
				Description: "not sent: " + paused.Error(), RetryAfter: paused.left}
		}
		if err != nil {
			if lastErr != nil {
				return nil, fmt.Errorf("bitrix24 %s: %w (last error: %v)", method, err, lastErr)
			}
			return nil, fmt.Errorf("bitrix24 %s: %w", method, err)
		}
		resp, tm, err := c.once(ctx, method, params, token)
		var perr *Error
		switch {
		case err == nil:
			c.o.Pacer.accepted()
			if c.o.Commands != nil && method != "batch" { // batch counts its own
				c.o.Commands(1)
			}
			if d := tm.resetIn(); d > 0 {
				c.o.Pacer.noteOperating(method, d)
			}
			return resp, nil
		case errors.As(err, &perr) && strings.EqualFold(perr.Code, CodeQueryLimitExceeded):
			perr.RetryAfter = c.o.Pacer.refusedLimit(tk)
			if perr.RetryAfter > c.o.MaxPause {
				return nil, err
			}
		case errors.As(err, &perr) && strings.EqualFold(perr.Code, CodeOperationTimeLimit):
			c.o.Pacer.accepted()
			perr.RetryAfter = c.o.Pacer.timeLimited(method, tm.resetIn())
			return nil, err
		case perr != nil && perr.Code != CodeUnexpectedAnswer:
			c.o.Pacer.accepted() // the bucket let it in; the method answered
		}
		lastErr = err
		if HasCode(err, CodeExpiredToken) && !refreshed {
			refreshed = true
			if _, rerr := c.o.Tokens.Refresh(ctx, token); rerr != nil {
				return nil, fmt.Errorf("bitrix24 %s: refreshing the expired token: %w", method, rerr)
			}
			attempt-- // a refresh is not a retry
			continue
		}
		retryable := notExecuted(err) || (safe && (Temporary(err) || isNetwork(err)))
		if HasCode(err, CodeExpiredToken) || !retryable || attempt >= c.o.Retries {
			return nil, lastErr
		}
		var delay time.Duration
		if !HasCode(err, CodeQueryLimitExceeded) { // the pacer holds rate-limited callers back itself
			delay = c.backoff(attempt)
		}
		c.o.Log.WarnContext(ctx, "bitrix24 call retried", slog.String("method", method),
			slog.Int("attempt", attempt+1), slog.Duration("delay", delay), slog.String("error", err.Error()))
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("bitrix24 %s: %w (last error: %v)", method, ctx.Err(), lastErr)
		case <-time.After(delay):
		}
	}
}

func (c *Client) backoff(attempt int) time.Duration {
	d := c.o.BaseDelay << attempt
	if d > c.o.MaxDelay || d <= 0 {
		d = c.o.MaxDelay
	}
	// Full jitter keeps many workers from retrying in lockstep.
	return d/2 + rand.N(d/2+1)
}

// once makes one HTTP request; the answer's time member comes back with
// its result or its error.
func (c *Client) once(ctx context.Context, method string, params Params, token string) (*Response, *answerTime, error) {
	body := make(map[string]any, len(params)+1)
	for k, v := range params {
		body[k] = v
	}
	body["auth"] = token
	b, err := json.Marshal(body)
	if err != nil {
		return nil, nil, fmt.Errorf("bitrix24 %s: encoding params: %w", method, err)
	}
	rctx, cancel := context.WithTimeout(ctx, c.o.CallTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, c.o.Endpoint+method+".json", bytes.NewReader(b))
	if err != nil {
		return nil, nil, fmt.Errorf("bitrix24 %s: %w", method, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "relay24")
	start := time.Now()
	res, err := c.o.HTTP.Do(req)
	if err != nil {
		c.observe(method, "network", start)
		return nil, nil, &netError{method: method, err: err}
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		c.observe(method, "network", start)
		return nil, nil, &netError{method: method, err: err}
	}
	var env envelope
	if jerr := json.Unmarshal(raw, &env); jerr != nil {
		c.observe(method, "garbage", start)
		// A proxy's HTML error page or a truncated body: classify by status.
		return nil, nil, &Error{Code: CodeUnexpectedAnswer, Description: fmt.Sprintf("unparseable answer: %.120q", raw),
			Status: res.StatusCode, Method: method}
	}
	if env.Error != "" || res.StatusCode >= 300 {
		code := env.Error
		if code == "" {
			code = http.StatusText(res.StatusCode)
		}
		c.observe(method, code, start)
		return nil, parseTime(env.Time), &Error{Code: code, Description: env.ErrorDescription, Status: res.StatusCode, Method: method}
	}
	c.observe(method, "ok", start)
	return &Response{Result: env.Result, Next: env.Next, Total: env.Total}, parseTime(env.Time), nil
}

func (c *Client) observe(method, outcome string, start time.Time) {
	if c.o.Observe != nil {
		c.o.Observe(method, outcome, time.Since(start))
	}
}

type netError struct {
	method string
	err    error
}

func (e *netError) Error() string { return fmt.Sprintf("bitrix24 %s: %v", e.method, e.err) }
func (e *netError) Unwrap() error { return e.err }

func isNetwork(err error) bool {
	var n *netError
	return errors.As(err, &n) && !errors.Is(err, context.Canceled)
}

// readOnly methods may be retried after an ambiguous failure.
func readOnly(method string) bool {
	m := strings.ToLower(method)
	for _, suffix := range []string{".get", ".list", ".current", ".info", ".fields", "profile", ".admin", ".findbycomm"} {
		if strings.HasSuffix(m, suffix) {
			return true
		}
	}
	return false
}
