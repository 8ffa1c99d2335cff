package automation

import (
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/relay24/relay24/bitrix"
	"github.com/relay24/relay24/problem"
)

func documentedCall(t *testing.T) url.Values {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "robot.handler.POST.form.SYNTH.txt"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := url.ParseQuery(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func parse(t *testing.T, v url.Values) (Call, error) {
	t.Helper()
	form, err := bitrix.DecodeForm(v)
	if err != nil {
		t.Fatal(err)
	}
	return ParseCall(form)
}

// The documented call reads into the deal, the chosen channel and the text.
func TestParseDocumentedCall(t *testing.T) {
	c, err := parse(t, documentedCall(t))
	if err != nil {
		t.Fatal(err)
	}
	if c.Entity != "deal" || c.EntityID != 123 || c.Document != "DEAL_123" || c.ChannelID != "d9e5721c-ce2b-444f-9627-60a8129d7e1f" ||
		c.Text != "Здравствуйте! Ваш заказ готов." || c.TemplateID != "" || c.UserID != 1 ||
		c.EventToken != "6650a1c2d3e4f5.12345678|A12345_67890_12345_67890|AbCdEfGhIjKlMnOpQrStUvWxYz012345.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" {
		t.Fatalf("read as %+v", c)
	}
}

// What is not a call of relay24's robot on a deal, lead or contact is
// refused as bad_robot_call.
func TestParseRefusesOtherCalls(t *testing.T) {
	for name, change := range map[string]func(url.Values){
		"no event token": func(v url.Values) { v.Del("event_token") },
		"another robot":  func(v url.Values) { v.Set("code", "sms_robot") },
		"a company": func(v url.Values) {
			v.Set("document_id[1]", "CCrmDocumentCompany")
			v.Set("document_id[2]", "COMPANY_1")
		},
		"class and id":   func(v url.Values) { v.Set("document_id[2]", "LEAD_5") },
		"no number":      func(v url.Values) { v.Set("document_id[2]", "DEAL_x") },
		"zero":           func(v url.Values) { v.Set("document_id[2]", "DEAL_0") },
		"short document": func(v url.Values) { v.Del("document_id[2]") },
		"another module": func(v url.Values) { v.Set("document_id[0]", "lists") },
		"template id too long": func(v url.Values) {
			b := make([]byte, 201)
			for i := range b {
				b[i] = 'x'
			}
			v.Set("properties[template_id]", string(b))
		},
	} {
		v := documentedCall(t)
		change(v)
		if _, err := parse(t, v); !problem.Is(err, problem.Invalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	v := documentedCall(t)
	v.Set("document_id[1]", "CCrmDocumentContact")
	v.Set("document_id[2]", "CONTACT_9")
	if c, err := parse(t, v); err != nil || c.Entity != "contact" || c.EntityID != 9 {
		t.Errorf("a contact: %+v %v", c, err)
	}
}
