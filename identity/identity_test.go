package identity

import "testing"

func TestNormalizePhone(t *testing.T) {
	same := []string{
		"+7 (999) 123-45-67", "8 999 123-45-67", "89991234567", "79991234567", "+79991234567",
		"7 999 123 45 67", "9991234567", "8(999)1234567", " +7-999-123-45-67 ", "007 999 123 45 67",
	}
	for _, s := range same {
		if got := NormalizePhone(s); got != "79991234567" {
			t.Errorf("NormalizePhone(%q) = %q", s, got)
		}
	}
	other := map[string]string{
		"+1 650 555 1234":   "16505551234",
		"+49 151 12345678":  "4915112345678",
		"4915112345678":     "4915112345678",
		"+380 67 123 4567":  "380671234567",
		"":                  "",
		"abc":               "",
		"12":                "",
		"+7 (495) 123-4567": "74951234567",
	}
	for in, want := range other {
		if got := NormalizePhone(in); got != want {
			t.Errorf("NormalizePhone(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFromMultifield(t *testing.T) {
	cases := []struct {
		typeID, valueType, value string
		want                     []ID
	}{
		{"PHONE", "MOBILE", "8 (999) 123-45-67", []ID{{Phone, "79991234567"}}},
		{"IM", "TELEGRAM", "@Client_One", []ID{{Telegram, "client_one"}}},
		{"IM", "TELEGRAM", "https://t.me/Client_One", []ID{{Telegram, "client_one"}}},
		{"IM", "TELEGRAM", "t.me/client_one", []ID{{Telegram, "client_one"}}},
		{"IM", "TELEGRAM", "123456789", []ID{{Telegram, "123456789"}}},
		{"IM", "INSTAGRAM", "instagram.com/Shop.Owner/", []ID{{Instagram, "shop.owner"}}},
		{"IM", "WHATSAPP", "+7 999 123 45 67", []ID{{Phone, "79991234567"}}},
		{"IM", "OPENLINE", "imol|telegrambot|1|555|21", []ID{{Telegram, "555"}}},
		{"IM", "OPENLINE", "imol|livechat|1|67|21", nil},
		{"IM", "SKYPE", "live:someone", []ID{{Other, "skype:live:someone"}}},
		{"EMAIL", "WORK", "A@B.example", []ID{{Email, "a@b.example"}}},
		{"PHONE", "WORK", "  ", nil},
		{"WEB", "WORK", "https://x.example", nil},
	}
	for _, c := range cases {
		got := FromMultifield(c.typeID, c.valueType, c.value)
		if len(got) != len(c.want) || (len(got) > 0 && got[0] != c.want[0]) {
			t.Errorf("FromMultifield(%s, %s, %q) = %v, want %v", c.typeID, c.valueType, c.value, got, c.want)
		}
	}
}

func TestForChatMatchesMultifields(t *testing.T) {
	if ForChat("whatsapp", "79991234567") != FromMultifield("PHONE", "WORK", "8 999 123-45-67")[0] {
		t.Error("a WhatsApp chat does not find the contact's phone")
	}
	if ForChat("instagram", "Shop.Owner") != FromMultifield("IM", "INSTAGRAM", "@shop.owner")[0] {
		t.Error("an Instagram chat does not find the contact's account")
	}
	if ForChat("telegram", "123456789") != FromMultifield("IM", "TELEGRAM", "123456789")[0] {
		t.Error("a Telegram chat does not find the contact's id")
	}
}
