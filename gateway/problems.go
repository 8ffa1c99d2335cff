package gateway

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/telegram"
	"github.com/relay24/relay24/wazzup"
)

// Problem turns a gateway's refusal into what the admin is told: rejected
// credentials and other refusals are the request's fault (400, with the
// gateway's reason); everything else, rate limits included, is the
// gateway's (502, retry).
func Problem(err error, doing string) error {
	var we *wazzup.Error
	if errors.As(err, &we) {
		if we.Status == 401 || we.Status == 403 {
			return problem.Wrap(err, problem.Invalid, "gateway_rejected_credentials", fmt.Sprintf("%s: Wazzup refused the key (%s)", doing, we.Code))
		}
		if we.Status >= 400 && we.Status < 500 && we.Status != 429 {
			return problem.Wrap(err, problem.Invalid, "gateway_refused", fmt.Sprintf("%s: Wazzup answered %s %s", doing, we.Code, we.Description))
		}
	}
	var te *telegram.Error
	if errors.As(err, &te) {
		if te.Code == 401 || te.Code == 404 {
			return problem.Wrap(err, problem.Invalid, "gateway_rejected_credentials", doing+": Telegram refused the bot token")
		}
		if te.Code >= 400 && te.Code < 500 && te.Code != 429 {
			return problem.Wrap(err, problem.Invalid, "gateway_refused", doing+": Telegram answered "+te.Description)
		}
	}
	return problem.Wrap(err, problem.Unavailable, "gateway_unavailable", doing+": the gateway did not answer properly; try again")
}

// ErrorText is a gateway's own words of a failed send: Wazzup's code and
// description, Telegram's description.
func ErrorText(err error) string {
	var we *wazzup.Error
	if errors.As(err, &we) {
		return strings.TrimSpace(we.Code + ": " + we.Description)
	}
	var te *telegram.Error
	if errors.As(err, &te) {
		return te.Description
	}
	return err.Error()
}

// mb formats a byte count for a person.
func mb(n int64) string {
	if n%(1<<20) == 0 {
		return strconv.FormatInt(n>>20, 10) + " MB"
	}
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
}

// tooLargeForChannel names the channel's limit, in the message and, for the
// page's own words, as limit_mb.
func tooLargeForChannel(what string, limit, size int64) error {
	return problem.New(problem.Invalid, "file_too_large_for_channel", "%s accepts files up to %s; this file is %s", what, mb(limit), mb(size)).
		With("limit_mb", strings.TrimSuffix(mb(limit), " MB"))
}
