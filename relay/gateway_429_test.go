package relay

import (
	"testing"

	"github.com/relay24/relay24/problem"
	"github.com/relay24/relay24/wazzup"
)

// Wazzup's 429 Too Many Requests (documented: ≤500 requests per 5 s;
// wazzup.Temporary calls it temporary) is told to the admin as the
// request's fault (400 gateway_refused) instead of 502 gateway_unavailable
// ("try again"), unlike Telegram's 429.
func TestGatewayProblemWazzupRateLimit(t *testing.T) {
	err := gatewayProblem(&wazzup.Error{Status: 429, Code: "TOO_MANY_REQUESTS"}, "registering relay24's webhook with Wazzup")
	if pe, ok := problem.As(err); !ok || pe.Code != problem.Unavailable || pe.Reason != "gateway_unavailable" {
		t.Fatalf("Wazzup 429: %v, want unavailable gateway_unavailable", err)
	}
}
