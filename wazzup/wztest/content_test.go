package wztest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fileServer is relay24's file link as Wazzup sees it; gets counts requests.
func fileServer(t *testing.T, gets *atomic.Int32) *httptest.Server {
	t.Helper()
	pdf := []byte("%PDF-1.4 invoice")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gets.Add(1)
		if r.Method != http.MethodGet {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		switch r.URL.Path {
		case "/f/8f3c2a/invoice-123.pdf":
			w.Header().Set("Content-Type", "application/pdf")
			_, _ = w.Write(pdf)
		case "/f/named":
			w.Header().Set("Content-Type", "image/png")
			w.Header().Set("Content-Disposition", `attachment; filename="Счёт.png"`)
			_, _ = w.Write([]byte("\x89PNG\r\n\x1a\n...."))
		case "/f/redirect.pdf":
			http.Redirect(w, r, "/f/8f3c2a/invoice-123.pdf", http.StatusFound)
		case "/f/big.bin":
			_, _ = w.Write(bytes.Repeat([]byte("x"), 2048))
		case "/f/big-chunked.bin":
			for range 4 {
				_, _ = w.Write(bytes.Repeat([]byte("x"), 600))
				w.(http.Flusher).Flush()
			}
		case "/f/empty.txt":
			w.WriteHeader(http.StatusOK)
		case "/f/slow.pdf":
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// contentRequest is the fixture's send with contentUri pointed at files.
func contentRequest(t *testing.T, ch Channel, uri, crmID string) string {
	t.Helper()
	var req map[string]any
	if err := json.Unmarshal(fixture(t, "message_send_request_content_uri.INFERRED.json"), &req); err != nil {
		t.Fatal(err)
	}
	req["channelId"], req["contentUri"], req["crmMessageId"] = ch.ChannelID, uri, crmID
	b, _ := json.Marshal(req)
	return string(b)
}

func TestContentDownloadedAtOnce(t *testing.T) {
	s, a, ch := setup(t)
	var gets atomic.Int32
	files := fileServer(t, &gets)
	st, b := call(t, s, key, "POST", "/v3/message", contentRequest(t, ch, files.URL+"/f/8f3c2a/invoice-123.pdf", "m1"))
	if st != http.StatusCreated || topKeys(t, b) != topKeys(t, fixture(t, "message_send_response_201.json")) {
		t.Fatalf("send: %d %s", st, b)
	}
	if gets.Load() != 1 {
		t.Errorf("the link was fetched %d times before the answer, want 1", gets.Load())
	}
	sent := a.Sent()
	if len(sent) != 1 || sent[0].File == nil {
		t.Fatalf("sent = %+v", sent)
	}
	f := sent[0].File
	if f.Name != "invoice-123.pdf" || f.Type != "application/pdf" || string(f.Bytes) != "%PDF-1.4 invoice" {
		t.Errorf("file = %q %q %q", f.Name, f.Type, f.Bytes)
	}

	st, b = call(t, s, key, "POST", "/v3/message", contentRequest(t, ch, files.URL+"/f/named", "m2"))
	if st != http.StatusCreated {
		t.Fatalf("send: %d %s", st, b)
	}
	if f := a.Sent()[1].File; f.Name != "Счёт.png" || f.Type != "image/png" {
		t.Errorf("named file = %q %q", f.Name, f.Type)
	}

	s.SetFetchContent(false)
	before := gets.Load()
	st, _ = call(t, s, key, "POST", "/v3/message", contentRequest(t, ch, files.URL+"/f/8f3c2a/invoice-123.pdf", "m3"))
	if st != http.StatusCreated || gets.Load() != before || a.Sent()[2].File != nil {
		t.Errorf("without fetching: %d, %d gets, file %v", st, gets.Load()-before, a.Sent()[2].File)
	}
}

func TestContentRefusals(t *testing.T) {
	s, a, ch := setup(t)
	var gets atomic.Int32
	files := fileServer(t, &gets)
	s.SetContentLimits(300*time.Millisecond, 1024)
	download := fixture(t, "error_400_message_download_content_error.INFERRED.json")
	tooBig := fixture(t, "error_400_messages_content_size_exceeded.INFERRED.json")
	cases := []struct {
		name, path string
		want       []byte // fixture whose code and keys the answer has
		code       string // else this code
	}{
		{"redirect", "/f/redirect.pdf", download, ""},
		{"not found", "/f/missing.pdf", download, ""},
		{"timeout", "/f/slow.pdf", download, ""},
		{"over the cap by length", "/f/big.bin", tooBig, ""},
		{"over the cap chunked", "/f/big-chunked.bin", tooBig, ""},
		{"empty", "/f/empty.txt", nil, "MESSAGES_CONTENT_CAN_NOT_BE_BLANK"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			crmID := "r" + string(rune('a'+i))
			st, b := call(t, s, key, "POST", "/v3/message", contentRequest(t, ch, files.URL+tc.path, crmID))
			var got struct {
				Status int    `json:"status"`
				Error  string `json:"error"`
			}
			_ = json.Unmarshal(b, &got)
			code := tc.code
			if tc.want != nil {
				var w struct {
					Error string `json:"error"`
				}
				_ = json.Unmarshal(tc.want, &w)
				code = w.Error
				if topKeys(t, b) != topKeys(t, tc.want) {
					t.Errorf("keys %s, fixture %s", topKeys(t, b), topKeys(t, tc.want))
				}
			}
			if st != http.StatusBadRequest || got.Status != 400 || got.Error != code {
				t.Errorf("answer %d %s, want 400 %s", st, b, code)
			}
			// A refused download burns no crmMessageId: the retry is not a duplicate.
			if _, b := call(t, s, key, "POST", "/v3/message", contentRequest(t, ch, files.URL+tc.path, crmID)); strings.Contains(string(b), "REPEATED") {
				t.Errorf("retry answered %s", b)
			}
		})
	}
	if n := len(a.Sent()); n != 0 {
		t.Errorf("%d messages recorded", n)
	}
}

func TestContentWithTextRefusedWithoutDownload(t *testing.T) {
	s, a, ch := setup(t)
	var gets atomic.Int32
	files := fileServer(t, &gets)
	var req map[string]any
	_ = json.Unmarshal([]byte(contentRequest(t, ch, files.URL+"/f/8f3c2a/invoice-123.pdf", "t1")), &req)
	req["text"] = "Ваш счёт"
	body, _ := json.Marshal(req)
	st, b := call(t, s, key, "POST", "/v3/message", string(body))
	if st != http.StatusBadRequest || !strings.Contains(string(b), `"error":"MESSAGE_ONLY_TEXT_OR_CONTENT"`) {
		t.Errorf("answer %d %s", st, b)
	}
	if gets.Load() != 0 || len(a.Sent()) != 0 {
		t.Errorf("%d downloads, %d sent", gets.Load(), len(a.Sent()))
	}
}
