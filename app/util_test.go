package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/lib/pq"
	"net/http"
	"net/http/cookiejar"
)

func newJar() http.CookieJar {
	j, _ := cookiejar.New(nil)
	return j
}

func readAll(res *http.Response) string {
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

func pqStrings(m map[string]time.Time) any {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return pq.StringArray(keys)
}

// attachmentJSON is an attachment of the API's Message JSON with each value
// as text: "unavailable" reads "true" for a file whose copy failed.
type attachmentJSON map[string]string

func (a *attachmentJSON) UnmarshalJSON(b []byte) error {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*a = attachmentJSON{}
	for k, v := range m {
		(*a)[k] = fmt.Sprint(v)
	}
	return nil
}
