package bitrix

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// printRForm reads a PHP print_r dump of $_REQUEST (the documented
// app-open and placement POSTs) as the form it was.
func printRForm(t testing.TB, name string) url.Values {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	v := url.Values{}
	for _, m := range regexp.MustCompile(`(?m)^\s*\[(\w+)\] => (.*)$`).FindAllStringSubmatch(string(b), -1) {
		v.Add(m[1], m[2])
	}
	if len(v) == 0 {
		t.Fatalf("%s: no fields", name)
	}
	return v
}

// jsonWire renders a documented event (shown as JSON in the docs) as the
// form body the portal sends: bracketed keys, scalars as text.
func jsonWire(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return EncodeQuery(m)
}

// capturedWire is the raw captured event body (its line breaks were added
// in the notes).
func capturedWire(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "event.ONCRMCONTACTADD.wire.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", "")
}

// documentedBodies are the portal's documented form bodies: install, events,
// app and placement opens.
func documentedBodies(t testing.TB) []string {
	out := []string{capturedWire(t)}
	for _, n := range []string{"event.ONAPPINSTALL.json", "event.ONAPPUNINSTALL.json", "event.ONCRMCONTACTADD.json"} {
		out = append(out, jsonWire(t, n))
	}
	for _, n := range []string{"app-open.POST.DEFAULT.print_r.txt", "placement.CRM_DEAL_DETAIL_TOOLBAR.POST.print_r.txt", "placement.LEFT_MENU.POST.print_r.txt"} {
		out = append(out, printRForm(t, n).Encode())
	}
	return out
}

func decodeBody(t testing.TB, body string) map[string]any {
	t.Helper()
	v, err := url.ParseQuery(body)
	if err != nil {
		t.Fatalf("%q: %v", body, err)
	}
	if err := CheckFormText(v); err != nil {
		t.Fatalf("documented body refused: %v", err)
	}
	m, err := DecodeForm(v)
	if err != nil {
		t.Fatalf("%q: %v", body, err)
	}
	return m
}

func TestDecodeFormDocumentedPayloads(t *testing.T) {
	ev := decodeBody(t, capturedWire(t))
	auth, _ := ev["auth"].(map[string]any)
	data, _ := ev["data"].(map[string]any)
	fields, _ := data["FIELDS"].(map[string]any)
	if ev["event"] != "ONCRMCONTACTADD" || auth["member_id"] != "010b6886ebc205e43ae65000ee00addb" ||
		auth["application_token"] != "3c6c9248ec54af6bea1159b43ee0ab32" || fields["ID"] != "134806" {
		t.Errorf("captured event decoded as %v", ev)
	}
	inst := decodeBody(t, jsonWire(t, "event.ONAPPINSTALL.json"))
	auth, _ = inst["auth"].(map[string]any)
	data, _ = inst["data"].(map[string]any)
	if auth["refresh_token"] != "4s386p3q0tr8dy89xvmt96234v3dljg8" || auth["expires_in"] != "3600" || data["LANGUAGE_ID"] != "de" {
		t.Errorf("ONAPPINSTALL decoded as %v", inst)
	}
	un := decodeBody(t, jsonWire(t, "event.ONAPPUNINSTALL.json"))
	if data, _ := un["data"].(map[string]any); data["CLEAN"] != "1" {
		t.Errorf("ONAPPUNINSTALL decoded as %v", un)
	}
	open := decodeBody(t, printRForm(t, "placement.CRM_DEAL_DETAIL_TOOLBAR.POST.print_r.txt").Encode())
	if open["PLACEMENT"] != "CRM_DEAL_DETAIL_TOOLBAR" || !strings.HasPrefix(open["PLACEMENT_OPTIONS"].(string), `{"ID":"8061"`) {
		t.Errorf("placement open decoded as %v", open)
	}
}

func TestDecodeFormPHPRules(t *testing.T) {
	cases := []struct {
		body string
		want map[string]any // nil: refused
	}{
		{"a[]=x&a[]=y&a[]=z", map[string]any{"a": []any{"x", "y", "z"}}},
		{"a[5]=x&a[]=y", map[string]any{"a": map[string]any{"5": "x", "6": "y"}}},
		// "05" is a string key for PHP: the next index stays 0.
		{"a[05]=x&a[]=y", map[string]any{"a": map[string]any{"05": "x", "0": "y"}}},
		{"a[b][]=1&a[b][]=2&a[c]=3", map[string]any{"a": map[string]any{"b": []any{"1", "2"}, "c": "3"}}},
		{"a=1&a[b]=2", nil},
		{"a[9223372036854775807]=x&a[]=y", nil},
		{"a" + strings.Repeat("[x]", maxFormDepth) + "=deep", map[string]any{"a": nest(maxFormDepth, "deep")}},
		{"a" + strings.Repeat("[x]", maxFormDepth+1) + "=deeper", nil},
	}
	for _, c := range cases {
		v, err := url.ParseQuery(c.body)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeForm(v)
		if c.want == nil {
			if err == nil {
				t.Errorf("%.60s: accepted as %v", c.body, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%.60s: %v, %v; want %v", c.body, got, err, c.want)
		}
	}
	// Appends stay in order however many there are (and cost linear time:
	// the index is kept, not searched for).
	v := url.Values{}
	for i := range 9000 {
		v.Add("a[]", fmt.Sprint(i))
	}
	got, err := DecodeForm(v)
	list, _ := got["a"].([]any)
	if err != nil || len(list) != 9000 || list[0] != "0" || list[8999] != "8999" {
		t.Fatalf("9000 appends: %d items, %v", len(list), err)
	}
}

func nest(depth int, leaf any) any {
	if depth == 0 {
		return leaf
	}
	return map[string]any{"x": nest(depth-1, leaf)}
}

func TestCheckFormText(t *testing.T) {
	long := strings.Repeat("k", 10000)
	cases := []struct {
		name string
		v    url.Values
		ok   bool
	}{
		{"documented install", printRForm(t, "app-open.POST.DEFAULT.print_r.txt"), true},
		{"Cyrillic and emoji", url.Values{"data[NAME]": {"Ольга 👍"}}, true},
		{"invalid UTF-8 value", url.Values{"auth[member_id]": {"a223c6b3\xff"}}, false},
		{"invalid UTF-8 key", url.Values{"auth[\xc3(]": {"x"}}, false},
		{"NUL in a value", url.Values{"member_id": {"a223\x00c6"}}, false},
		{"NUL in a key", url.Values{"DOMAIN\x00": {"portal.bitrix24.com"}}, false},
		{"bad text in the second value", url.Values{"a[]": {"ok", "\xfe"}}, false},
		{"long bad key", url.Values{long + "\xff": {"x"}}, false},
	}
	for _, c := range cases {
		err := CheckFormText(c.v)
		if (err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, err)
		}
		if err != nil && (!utf8.ValidString(err.Error()) || len(err.Error()) > 200) {
			t.Errorf("%s: the message must be short, valid text: %q", c.name, err.Error())
		}
	}
}

// FuzzDecodeForm: the portal's form bodies (install, events, page opens) never
// make the codec panic; what it accepts is a tree of non-empty objects and
// lists whose leaves are posted values, and it survives a round trip through
// EncodeQuery unchanged; what CheckFormText also accepts holds only valid
// UTF-8 without NUL, in keys and values.
func FuzzDecodeForm(f *testing.F) {
	for _, b := range documentedBodies(f) {
		f.Add(b)
	}
	for _, b := range []string{
		"", "a[]=1&a[]=2&a[][x]=3", "a[b]=1&a=2", "a[0]=x&a[00]=y", "a[1]=x", "a[[]=1&a]b[c]=2",
		"[x]=1", "a[b=1", "a[b]c=1", "=v", "%ff=1", "a=%00", "auth%5Bmember_id%5D=%C3%28", "a[b][c][d][e]=deep",
	} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body string) {
		v, err := url.ParseQuery(body)
		if err != nil {
			return // net/http refuses it before the codec sees it
		}
		d, err := DecodeForm(v)
		if err != nil {
			return
		}
		posted := map[string]bool{}
		for _, vs := range v {
			for _, s := range vs {
				posted[s] = true
			}
		}
		clean := CheckFormText(v) == nil
		var walk func(path string, n any, root bool)
		walk = func(path string, n any, root bool) {
			switch x := n.(type) {
			case string:
				if !posted[x] {
					t.Fatalf("%s = %q was never posted", path, x)
				}
				if clean && !cleanText(x) {
					t.Fatalf("%s = %q is not clean text", path, x)
				}
			case map[string]any:
				if len(x) == 0 && !root {
					t.Fatalf("%s is an empty object", path)
				}
				for k, c := range x {
					if clean && !cleanText(k) {
						t.Fatalf("%s has key %q", path, k)
					}
					walk(path+"["+k+"]", c, false)
				}
			case []any:
				if len(x) == 0 {
					t.Fatalf("%s is an empty list", path)
				}
				for i, c := range x {
					walk(fmt.Sprintf("%s[%d]", path, i), c, false)
				}
			default:
				t.Fatalf("%s is a %T", path, n)
			}
		}
		walk("", d, true)
		again, err := url.ParseQuery(EncodeQuery(d))
		if err != nil {
			t.Fatalf("EncodeQuery(%v) does not parse: %v", d, err)
		}
		d2, err := DecodeForm(again)
		if err != nil || !reflect.DeepEqual(d, d2) {
			t.Fatalf("round trip: %v\n-> %v (%v)", d, d2, err)
		}
	})
}

// Every kind of list and map relay24 puts in a batch command is sent
// element by element, as the portal's PHP reads it: a multifield
// ([]map[string]any) printed whole would create a contact without a phone.
func TestEncodeQueryNestedKinds(t *testing.T) {
	got := EncodeQuery(map[string]any{"fields": map[string]any{
		"PHONE": []map[string]any{{"VALUE": "+79995550177", "VALUE_TYPE": "MOBILE"}},
		"IDS":   []int64{7, 9},
		"TAGS":  map[string]string{"a": "b"},
		"ID":    int64(5),
		"N":     json.Number("12"),
	}})
	q, err := url.ParseQuery(got)
	if err != nil {
		t.Fatal(err)
	}
	want := url.Values{
		"fields[PHONE][0][VALUE]": {"+79995550177"}, "fields[PHONE][0][VALUE_TYPE]": {"MOBILE"},
		"fields[IDS][0]": {"7"}, "fields[IDS][1]": {"9"}, "fields[TAGS][a]": {"b"}, "fields[ID]": {"5"}, "fields[N]": {"12"},
	}
	if !reflect.DeepEqual(q, want) {
		t.Fatalf("EncodeQuery = %s\nparsed %v\nwant %v", got, q, want)
	}
	decoded, err := DecodeForm(q)
	if err != nil {
		t.Fatal(err)
	}
	phones, _ := decoded["fields"].(map[string]any)["PHONE"].([]any)
	if len(phones) != 1 {
		t.Fatalf("decoded back: %#v", decoded)
	}
}
