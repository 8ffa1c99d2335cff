package problem_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/relay24/relay24/problem"
)

// Clients see a snake_case code: the reason when one is given, else the
// error's code.
func TestReasonOrCode(t *testing.T) {
	for _, c := range []struct {
		err  *problem.Error
		want string
	}{
		{problem.New(problem.NotFound, "dialog_not_found", "dialog %d not found", 7), "dialog_not_found"},
		{problem.New(problem.Conflict, "", "busy"), "conflict"},
		{&problem.Error{Code: problem.Unavailable}, "unavailable"},
		{problem.Wrap(io.EOF, problem.Internal, "", "internal error"), "internal"},
		{problem.Wrap(io.EOF, problem.Invalid, "bad_cursor", "bad"), "bad_cursor"},
	} {
		if got := c.err.ReasonOrCode(); got != c.want {
			t.Errorf("%v: ReasonOrCode %q, want %q", c.err, got, c.want)
		}
	}
}

// New formats its message; Wrap keeps the cause for the logs (in Error()
// and for errors.Is) while its Message, what clients see, does not hold it.
func TestNewAndWrap(t *testing.T) {
	e := problem.New(problem.Invalid, "text_too_long", "%s accepts at most %d characters", "Instagram", 1000)
	if e.Message != "Instagram accepts at most 1000 characters" || e.Err != nil {
		t.Errorf("New: %+v", e)
	}
	if e.Error() != "invalid: Instagram accepts at most 1000 characters" {
		t.Errorf("New: Error() %q", e.Error())
	}

	cause := fmt.Errorf("dial tcp 10.0.0.1:5432: password=hunter2: %w", io.ErrUnexpectedEOF)
	w := problem.Wrap(cause, problem.Unavailable, "portal_unavailable", "the portal did not answer")
	if !errors.Is(w, io.ErrUnexpectedEOF) || errors.Unwrap(w) != cause {
		t.Error("Wrap lost its cause")
	}
	if strings.Contains(w.Message, "hunter2") {
		t.Errorf("the client-facing message holds the cause: %q", w.Message)
	}
	if !strings.Contains(w.Error(), "hunter2") || !strings.HasPrefix(w.Error(), "unavailable: the portal did not answer: ") {
		t.Errorf("Error() for the logs: %q", w.Error())
	}
}

// As finds the problem anywhere in a chain of wrapped errors, and Is
// compares its code; an error without one has no code.
func TestAsAndIs(t *testing.T) {
	nf := problem.New(problem.NotFound, "dialog_not_found", "dialog not found")
	deep := fmt.Errorf("handler: %w", fmt.Errorf("store: dialog: %w", nf))
	joined := errors.Join(io.EOF, deep)
	for _, c := range []struct {
		name string
		err  error
		want problem.Code // "" = no problem in the chain
	}{
		{"itself", nf, problem.NotFound},
		{"wrapped twice", deep, problem.NotFound},
		{"joined", joined, problem.NotFound},
		{"wrapping a problem keeps the outer code", problem.Wrap(nf, problem.Internal, "", "x"), problem.Internal},
		{"plain error", io.EOF, ""},
		{"nil", nil, ""},
	} {
		pe, ok := problem.As(c.err)
		if ok != (c.want != "") || (ok && pe.Code != c.want) {
			t.Errorf("%s: As = %v, %v; want code %q", c.name, pe, ok, c.want)
		}
		for _, code := range []problem.Code{problem.NotFound, problem.Internal, problem.Invalid} {
			if got := problem.Is(c.err, code); got != (code == c.want) {
				t.Errorf("%s: Is(%s) = %v", c.name, code, got)
			}
		}
	}
	if pe, _ := problem.As(deep); pe != nf {
		t.Error("As did not return the very problem in the chain")
	}
}
