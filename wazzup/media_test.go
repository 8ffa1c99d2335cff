package wazzup_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/relay24/relay24/wazzup"
	"github.com/relay24/relay24/wazzup/wztest"
)

func TestSendFile(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pdf := []byte("%PDF-1.4 invoice")
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/f/invoice-123.pdf":
			w.Header().Set("Content-Type", "application/pdf")
			_, _ = w.Write(pdf)
		case "/f/photo.jpg":
			w.Header().Set("Content-Type", "image/jpeg")
			_, _ = w.Write([]byte("\xff\xd8\xff\xe0 jpeg"))
		case "/f/moved.pdf":
			http.Redirect(w, r, "/f/invoice-123.pdf", http.StatusMovedPermanently)
		case "/f/big.bin":
			_, _ = w.Write(bytes.Repeat([]byte("x"), wazzup.MaxContentSize+1))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer files.Close()
	wa := func(uri, crmID string) wazzup.SendRequest {
		return wazzup.SendRequest{ChannelID: e.wa.ChannelID, ChatType: "whatsapp", ChatID: "79011112233",
			ContentURI: uri, CrmMessageID: crmID}
	}

	res, err := e.c.SendFile(ctx, wa(files.URL+"/f/invoice-123.pdf", "f1"))
	if err != nil || res.MessageID == "" || res.ChatID != "79011112233" {
		t.Fatalf("SendFile = %+v, %v", res, err)
	}
	sent := e.acc.Sent()
	if f := sent[len(sent)-1].File; f == nil || f.Name != "invoice-123.pdf" || f.Type != "application/pdf" || !bytes.Equal(f.Bytes, pdf) {
		t.Errorf("file = %+v", f)
	}
	// The idempotency of Send holds for files.
	if _, err := e.c.SendFile(ctx, wa(files.URL+"/f/invoice-123.pdf", "f1")); !wazzup.IsDuplicate(err) {
		t.Errorf("repeat: %v", err)
	}

	ig := wazzup.SendRequest{ChannelID: e.ig.ChannelID, ChatType: "instagram", ChatID: "anna", ContentURI: files.URL + "/f/invoice-123.pdf"}
	both := wa(files.URL+"/f/invoice-123.pdf", "")
	both.Text = "Ваш счёт"
	cases := []struct {
		name      string
		req       wazzup.SendRequest
		kind      wazzup.MediaKind
		retryable bool
		sent      bool // reached Wazzup (an *Error is wrapped)
	}{
		{"text and content", both, wazzup.MediaTextAndContent, false, false},
		{"no uri", wa("", ""), wazzup.MediaBadURI, false, false},
		{"relative uri", wa("/f/invoice-123.pdf", ""), wazzup.MediaBadURI, false, false},
		{"ftp uri", wa("ftp://example.com/a.pdf", ""), wazzup.MediaBadURI, false, false},
		{"redirect", wa(files.URL+"/f/moved.pdf", "f2"), wazzup.MediaDownload, true, true},
		{"missing", wa(files.URL+"/f/gone.pdf", "f3"), wazzup.MediaDownload, true, true},
		{"over 10 MB", wa(files.URL+"/f/big.bin", "f4"), wazzup.MediaTooBig, false, true},
		{"instagram takes images only", ig, wazzup.MediaWrongType, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.c.SendFile(ctx, tc.req)
			var me *wazzup.MediaError
			if !errors.As(err, &me) || me.Kind != tc.kind || me.Retryable() != tc.retryable {
				t.Fatalf("err = %v (%T), want kind %v", err, err, tc.kind)
			}
			if wazzup.MediaKindOf(err) != tc.kind || wazzup.Temporary(err) || wazzup.IsDuplicate(err) {
				t.Errorf("classified as %v, temporary %v", wazzup.MediaKindOf(err), wazzup.Temporary(err))
			}
			var we *wazzup.Error
			if errors.As(err, &we) != tc.sent {
				t.Errorf("reached Wazzup = %v, want %v (%v)", !tc.sent, tc.sent, err)
			}
		})
	}
	// A refused download may be sent again with the same crmMessageId.
	if _, err := e.c.SendFile(ctx, wa(files.URL+"/f/invoice-123.pdf", "f2")); err != nil {
		t.Errorf("retry after a failed download: %v", err)
	}
	// A non-media failure is not a MediaError and keeps its classification.
	e.acc.SetFault(&wztest.Fault{Path: "/v3/message", Status: http.StatusServiceUnavailable})
	_, err = e.c.SendFile(ctx, wa(files.URL+"/f/photo.jpg", "f5"))
	var me *wazzup.MediaError
	if errors.As(err, &me) || !wazzup.Temporary(err) {
		t.Errorf("503: %v (%T)", err, err)
	}
}

func TestMediaKindOf(t *testing.T) {
	cases := []struct {
		code string
		want wazzup.MediaKind
	}{
		{"MESSAGE_ONLY_TEXT_OR_CONTENT", wazzup.MediaTextAndContent},
		{"messageOnlyTextOrContent", wazzup.MediaTextAndContent},
		{"MESSAGE_DOWNLOAD_CONTENT_ERROR", wazzup.MediaDownload},
		{"MESSAGES_CONTENT_SIZE_EXCEEDED", wazzup.MediaTooBig},
		{"MESSAGES_CONTENT_SIZE_EXCEEDED_WABA", wazzup.MediaTooBig},
		{"MESSAGES_CONTENT_SIZE_EXCEEDED_TELEGRAM", wazzup.MediaTooBig},
		{"TOO_BIG_CONTENT", wazzup.MediaTooBig},
		{"MESSAGE_WRONG_CONTENT_TYPE", wazzup.MediaWrongType},
		{"MESSAGES_UNSUPPORTED_CONTENT_TYPE_INSTAPI", wazzup.MediaWrongType},
		{"CONTENT_CONVERSION_ERROR", wazzup.MediaWrongType},
		{"WRONG_CONTENT", wazzup.MediaWrongType},
		{"MESSAGES_CONTENT_CAN_NOT_BE_BLANK", wazzup.MediaBlank},
		{"CHANNEL_BLOCKED", wazzup.MediaNone},
		{"REPEATED_CRM_MESSAGE_ID", wazzup.MediaNone},
	}
	for _, tc := range cases {
		err := &wazzup.Error{Status: 400, Code: tc.code}
		if got := wazzup.MediaKindOf(err); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.code, got, tc.want)
		}
	}
	if wazzup.MediaKindOf(errors.New("x")) != wazzup.MediaNone || wazzup.MediaKindOf(nil) != wazzup.MediaNone {
		t.Error("plain errors are no media errors")
	}
}

// TestMediaErrorFixtures reads the documented (inferred) error answers.
func TestMediaErrorFixtures(t *testing.T) {
	for name, want := range map[string]wazzup.MediaKind{
		"error_400_message_download_content_error.INFERRED.json": wazzup.MediaDownload,
		"error_400_messages_content_size_exceeded.INFERRED.json": wazzup.MediaTooBig,
	} {
		body := fixture(t, name)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write(body)
		}))
		c := wazzup.NewClient(srv.URL, apiKey, nil)
		_, err := c.SendFile(context.Background(), wazzup.SendRequest{ChannelID: "e0629e11-0f67-4567-92a9-2237e91ec1b9",
			ChatType: "whatsapp", ChatID: "79011112233", ContentURI: "https://relay24.example.com/f/a.pdf"})
		srv.Close()
		var me *wazzup.MediaError
		if !errors.As(err, &me) || me.Kind != want {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if we := asError(t, err); we.RequestID == "" || we.Description == "" {
			t.Errorf("%s: %+v", name, we)
		}
	}
}
