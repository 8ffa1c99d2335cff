package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/relay24/relay24/wazzup/wztest"
)

// The Wazzup adapter lists the account's templates with their channels,
// text and variable count, sends one with its values (no text), and says
// why a send was refused with a code of the catalogue.
func TestWazzupTemplates(t *testing.T) {
	ctx := context.Background()
	srv := wztest.NewServer()
	t.Cleanup(srv.Close)
	acc := srv.AddAccount("c8cf90444023482f909520d454368d27")
	waba := acc.AddChannel("wapi", "79865784458", "WABA")
	body := []wztest.TemplateComponent{{Type: "BODY", Text: "Здравствуйте, {{1}}! Заказ {{2}} готов."}}
	ok := acc.AddTemplate(wztest.Template{Title: "Заказ готов", Name: "order_ready", Status: "APPROVED", Language: "ru",
		Channels: []string{waba.ChannelID}, Components: body})
	bad := acc.AddTemplate(wztest.Template{Title: "Отклонён", Name: "rejected", Status: "rejected",
		Channels: []string{waba.ChannelID}, Components: body})
	w := &Wazzup{APIURL: srv.URL(), HTTP: &http.Client{Timeout: 10 * time.Second}}
	if !w.TemplatesOn("wapi") || w.TemplatesOn("whatsapp") || w.TemplatesOn("instagram") {
		t.Error("TemplatesOn: only WhatsApp Business")
	}
	list, err := w.Templates(ctx, "c8cf90444023482f909520d454368d27")
	if err != nil || len(list) != 2 {
		t.Fatalf("templates: %+v %v", list, err)
	}
	got := list[0]
	if got.ID != ok.GUID || got.Title != "Заказ готов" || got.Status != "approved" || got.Variables != 2 ||
		got.Text != "Здравствуйте, {{1}}! Заказ {{2}} готов." || len(got.Channels) != 1 || got.Channels[0] != waba.ChannelID {
		t.Errorf("template %+v", got)
	}
	out := Outgoing{Target: Target{ChannelExt: waba.ChannelID, Transport: "wapi", ChatType: "whatsapp", ChatID: "79994621848"}, Ref: "relay24-1"}
	sent, err := w.SendTemplate(ctx, "c8cf90444023482f909520d454368d27", out, Template{ID: ok.GUID, Params: []string{"Анна", "A-17"}})
	if err != nil || sent.MessageID == "" {
		t.Fatalf("send: %+v %v", sent, err)
	}
	s := acc.Sent()
	if len(s) != 1 || s[0].Request.TemplateID != ok.GUID || strings.Join(s[0].Request.TemplateValues, ",") != "Анна,A-17" || s[0].Request.Text != "" {
		t.Fatalf("the emulator got %+v", s)
	}
	for _, c := range []struct {
		tpl  Template
		code string
	}{
		{Template{ID: bad.GUID, Params: []string{"a", "b"}}, "template_not_approved"},
		{Template{ID: ok.GUID, Params: []string{"a"}}, "template_values_refused"},
		{Template{ID: ok.GUID, Params: []string{"a", strings.Repeat("я", 1100)}}, "template_too_long"},
	} {
		out.Ref = "relay24-" + c.code
		_, err := w.SendTemplate(ctx, "c8cf90444023482f909520d454368d27", out, c.tpl)
		var se *SendError
		if !errors.As(err, &se) || se.Outcome != Refused || se.Code != c.code {
			t.Errorf("%s: %v", c.code, err)
		}
	}
}

// A status of a message sent outside the window is said as window_closed;
// a templateStatus webhook is read.
func TestWazzupWindowAndTemplateStatus(t *testing.T) {
	wz := &Wazzup{}
	in, err := wz.ParseWebhook([]byte(`{"statuses":[{"messageId":"m1","timestamp":"2025-03-01T12:00:00Z","status":"error",
		"error":{"error":"24_HOURS_EXCEEDED","description":"24 hours passed"}},
		{"messageId":"m2","timestamp":"2025-03-01T12:00:00Z","status":"error","error":{"error":"7_DAYS_EXCEEDED"}}]}`), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Statuses) != 2 || in.Statuses[0].Error != "window_closed: 24_HOURS_EXCEEDED" || in.Statuses[1].Error != "window_closed: 7_DAYS_EXCEEDED" {
		t.Errorf("statuses %+v", in.Statuses)
	}
	in, err = wz.ParseWebhook([]byte(`{"templateStatus":{"templateGuid":"g-1","name":"order_ready","status":"REJECTED"}}`), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(in.TemplateStatuses) != 1 || in.TemplateStatuses[0] != (TemplateStatus{ID: "g-1", Name: "order_ready", Status: "rejected"}) {
		t.Errorf("template statuses %+v", in.TemplateStatuses)
	}
}
