package bitrix

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// MaxBatch is the most commands one batch request may carry.
const MaxBatch = 50

// Command is one method of a batch. Raw is appended to the encoded Params
// unescaped, for `$result[key][path]` references that the portal substitutes.
type Command struct {
	Key    string
	Method string
	Params Params
	Raw    string
}

func (c Command) query() string {
	q := EncodeQuery(c.Params)
	if c.Raw != "" {
		if q != "" {
			q += "&"
		}
		q += c.Raw
	}
	if q == "" {
		return c.Method
	}
	return c.Method + "?" + q
}

// BatchResult holds each command's result or error by key.
type BatchResult struct {
	Result map[string]json.RawMessage
	Errors map[string]*Error
	Total  map[string]int
	Next   map[string]int
}

// phpMap decodes a PHP associative array, which the portal renders as [] when empty.
type phpMap[T any] map[string]T

func (m *phpMap[T]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var list []T
		if err := json.Unmarshal(b, &list); err != nil {
			return err
		}
		*m = make(phpMap[T], len(list))
		for i, v := range list {
			(*m)[strconv.Itoa(i)] = v
		}
		return nil
	}
	var plain map[string]T
	if err := json.Unmarshal(b, &plain); err != nil {
		return err
	}
	*m = plain
	return nil
}

type batchErr struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// Batch runs up to MaxBatch commands in one request (one hit on the rate
// limit). With halt the portal stops at the first failing command. Command
// errors are in the result; the returned error is for the request as a whole.
// Under a Coalescer's Join (and without halt, which would stop the others'
// commands too) the commands share a request with the other calls of the
// group; their $result references are kept pointing at each other.
func (c *Client) Batch(ctx context.Context, cmds []Command, halt bool) (*BatchResult, error) {
	if pt, ok := partyOf(ctx); ok && !halt && len(cmds) > 0 {
		if err := checkKeys(cmds); err != nil {
			return nil, err
		}
		p := &pending{c: c, cmds: cmds}
		if err := pt.co.submit(ctx, pt.i, p); err != nil {
			return nil, err
		}
		return p.res, nil
	}
	return c.batch(ctx, cmds, halt)
}

// checkKeys refuses a batch whose command keys are empty or repeated.
func checkKeys(cmds []Command) error {
	seen := make(map[string]bool, len(cmds))
	for _, c := range cmds {
		if seen[c.Key] || c.Key == "" {
			return fmt.Errorf("bitrix24 batch: command key %q empty or repeated", c.Key)
		}
		seen[c.Key] = true
	}
	return nil
}

func (c *Client) batch(ctx context.Context, cmds []Command, halt bool) (*BatchResult, error) {
	if len(cmds) == 0 {
		return &BatchResult{}, nil
	}
	if len(cmds) > MaxBatch {
		return nil, fmt.Errorf("bitrix24 batch: %d commands, at most %d", len(cmds), MaxBatch)
	}
	if err := checkKeys(cmds); err != nil {
		return nil, err
	}
	safe := true
	// The portal runs commands in the order of the cmd object, and a
	// $result reference sees only earlier commands: keep our order (a Go map
	// would sort the keys, putting p10 before p2).
	var cmd bytes.Buffer
	cmd.WriteByte('{')
	for i, c := range cmds {
		if i > 0 {
			cmd.WriteByte(',')
		}
		k, _ := json.Marshal(c.Key)
		v, _ := json.Marshal(c.query())
		cmd.Write(k)
		cmd.WriteByte(':')
		cmd.Write(v)
		safe = safe && readOnly(c.Method)
	}
	cmd.WriteByte('}')
	h := 0
	if halt {
		h = 1
	}
	resp, err := c.do(ctx, "batch", Params{"halt": h, "cmd": json.RawMessage(cmd.Bytes())}, safe)
	if err != nil {
		return nil, err
	}
	if c.o.Commands != nil {
		c.o.Commands(len(cmds))
	}
	var raw struct {
		Result phpMap[json.RawMessage] `json:"result"`
		Errors phpMap[batchErr]        `json:"result_error"`
		Total  phpMap[int]             `json:"result_total"`
		Next   phpMap[int]             `json:"result_next"`
	}
	if err := json.Unmarshal(resp.Result, &raw); err != nil {
		return nil, fmt.Errorf("bitrix24 batch: decoding result: %w", err)
	}
	out := &BatchResult{Result: raw.Result, Total: raw.Total, Next: raw.Next, Errors: map[string]*Error{}}
	for k, e := range raw.Errors {
		be := &Error{Code: e.Error, Description: e.ErrorDescription, Status: 200, Method: methodOf(cmds, k)}
		if strings.EqualFold(be.Code, CodeOperationTimeLimit) {
			// A command over its time budget blocks that method (limits.md:
			// nested calls are counted one by one).
			be.RetryAfter = c.o.Pacer.timeLimited(be.Method, 0)
		}
		out.Errors[k] = be
	}
	return out, nil
}

func methodOf(cmds []Command, key string) string {
	for _, c := range cmds {
		if c.Key == key {
			return c.Method
		}
	}
	return "batch"
}
