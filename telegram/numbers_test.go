package telegram

import (
	"strings"
	"testing"
)

// A date no integer holds (1e999999) or that is no number at all costs the
// message nothing: Date is zero and the caller uses the time of receipt. An
// id no integer holds is refused, naming the value: without it the message
// cannot be stored exactly once.
func TestParseUpdateUnusableNumbers(t *testing.T) {
	for _, date := range []string{`1e999999`, `"1e999999"`, `"yesterday"`, `1.5`, `-1`} {
		u, err := ParseUpdate([]byte(`{"update_id":1,"message":{"message_id":2,"date":` + date + `,"edit_date":` + date +
			`,"chat":{"id":3,"type":"private"},"text":"hi"}}`))
		if err != nil {
			t.Errorf("date %s: %v", date, err)
			continue
		}
		if m := u.Message; m.MessageID != 2 || !m.Date.IsZero() || !m.EditDate.IsZero() || m.Text != "hi" {
			t.Errorf("date %s: message %+v", date, m)
		}
	}
	for _, body := range []string{
		`{"update_id":1,"message":{"message_id":1e999999,"date":1,"chat":{"id":3}}}`,
		`{"update_id":1,"message":{"message_id":"1e999999","date":1,"chat":{"id":3}}}`,
		`{"update_id":1,"message":{"message_id":2,"date":1,"chat":{"id":1e999999}}}`,
		`{"update_id":1e999999}`,
	} {
		if _, err := ParseUpdate([]byte(body)); err == nil || !strings.Contains(err.Error(), "1e999999") {
			t.Errorf("%s: %v, want an error naming the value", body, err)
		}
	}
}
