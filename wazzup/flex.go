package wazzup

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The documentation prints ids as strings, examples sometimes as numbers, and
// GET /v3/webhooks answers "true" strings where live accounts send booleans.
// These types accept every spelling seen so that one odd field never costs
// relay24 a whole webhook.

// flexString is a JSON string that may also arrive as a number (kept as its
// literal text), a boolean (its literal) or null (empty).
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return fmt.Errorf("empty value")
	}
	switch c := b[0]; {
	case c == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
	case c == 'n':
		*s = ""
	case c == 't' || c == 'f' || c == '-' || (c >= '0' && c <= '9'):
		*s = flexString(b)
	default:
		return fmt.Errorf("want a string, got %s", kindOf(b))
	}
	return nil
}

// flexBool is a JSON boolean that may also arrive as "true"/"false", "Y"/"N",
// 1/0 or null (false).
type flexBool bool

func (v *flexBool) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		b = []byte(s)
	}
	switch strings.ToLower(string(b)) {
	case "true", "y", "yes", "1":
		*v = true
	case "false", "n", "no", "0", "", "null":
		*v = false
	default:
		return fmt.Errorf("want a boolean, got %s", kindOf(b))
	}
	return nil
}

// flexTime is a point in time written as an ISO-8601 string or as a Unix
// number (milliseconds when large enough, else seconds). Anything it cannot
// read becomes the zero time rather than an error: a timestamp is never worth
// refusing a webhook over, the caller falls back to the time of receipt.
type flexTime time.Time

func (t *flexTime) UnmarshalJSON(b []byte) error {
	*t = flexTime(parseTimeValue(bytes.TrimSpace(b)))
	return nil
}

// isoLayouts are tried in order for string timestamps.
var isoLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

func parseTimeValue(b []byte) time.Time {
	if len(b) == 0 {
		return time.Time{}
	}
	if b[0] == '"' {
		var s string
		if json.Unmarshal(b, &s) != nil {
			return time.Time{}
		}
		s = strings.TrimSpace(s)
		for _, layout := range isoLayouts {
			if v, err := time.Parse(layout, s); err == nil {
				return v.UTC()
			}
		}
		b = []byte(s) // a number in a string
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 || f > 1e16 {
		return time.Time{}
	}
	if f >= 1e11 { // milliseconds: 1e11 s would be the year 5138
		return time.UnixMilli(int64(f)).UTC()
	}
	return time.Unix(int64(f), 0).UTC()
}

// rawOrNil drops a JSON null so that absent and null look the same.
func rawOrNil(r json.RawMessage) json.RawMessage {
	r = bytes.TrimSpace(r)
	if len(r) == 0 || string(r) == "null" {
		return nil
	}
	return append(json.RawMessage(nil), r...)
}

// kindOf names the JSON kind of a value for error messages.
func kindOf(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}
