// Package identity turns the ways a client can be reached — phone numbers in
// any spelling, messenger accounts and ids — into one canonical (kind, value)
// pair, so "who owns +7 999 123-45-67 / @client / this Telegram id" is a
// single indexed lookup.
package identity

import (
	"net/url"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// Kinds of identity.
const (
	Phone     = "phone"     // digits with country code, no plus: 79991234567
	Telegram  = "telegram"  // numeric chat id, or username lower-cased without @
	Instagram = "instagram" // account name lower-cased without @
	WhatsApp  = "whatsapp"  // a WhatsApp-only id that is not a phone (groups); phones are Phone
	VK        = "vk"
	Viber     = "viber"
	Email     = "email"
	Other     = "other"
)

// ID is a canonical identity.
type ID struct {
	Kind  string
	Value string
}

// DefaultRegion is used for numbers written without a country code: the
// product's first market writes 8 999 … and 999 … for Russian mobiles.
const DefaultRegion = "RU"

// NormalizePhone returns the number as digits with the country code, or ""
// when it is not a phone number. "8 (999) 123-45-67", "+7 999 123 45 67" and
// "79991234567" all give "79991234567".
func NormalizePhone(raw string) string {
	s := strings.TrimSpace(raw)
	if s == "" {
		return ""
	}
	digits := onlyDigits(s)
	if len(digits) < 5 || len(digits) > 15 {
		return ""
	}
	region := DefaultRegion
	switch {
	case strings.HasPrefix(s, "00"):
		// The international prefix written as 00.
		s = "+" + strings.TrimPrefix(digits, "00")
	case !strings.HasPrefix(s, "+") && !strings.HasPrefix(s, "8") && len(digits) > 10:
		// 79991234567 or 4915112345678: a full international number without the plus.
		s = "+" + digits
	}
	num, err := phonenumbers.Parse(s, region)
	if err != nil {
		return digits
	}
	if !phonenumbers.IsPossibleNumber(num) {
		return digits
	}
	return strings.TrimPrefix(phonenumbers.Format(num, phonenumbers.E164), "+")
}

func onlyDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Handle canonicalises an account name: no @, no link, lower case.
func Handle(raw string) string {
	s := strings.TrimSpace(raw)
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		s = strings.Trim(u.Path, "/")
		if i := strings.IndexByte(s, '/'); i >= 0 {
			s = s[:i]
		}
	} else if i := strings.Index(s, "/"); i > 0 && strings.Contains(s[:i], ".") {
		// t.me/client or instagram.com/client without a scheme
		s = strings.Trim(s[i:], "/")
		if j := strings.IndexByte(s, '/'); j >= 0 {
			s = s[:j]
		}
	}
	s = strings.TrimPrefix(s, "@")
	return strings.ToLower(strings.TrimFunc(s, unicode.IsSpace))
}

// FromMultifield reads a CRM multifield (TYPE_ID PHONE/IM/EMAIL with its
// VALUE_TYPE) into identities; unknown or empty values give none.
func FromMultifield(typeID, valueType, value string) []ID {
	value = strings.TrimSpace(value)
	if value == "" {
		return nil
	}
	switch strings.ToUpper(typeID) {
	case "PHONE":
		if p := NormalizePhone(value); p != "" {
			return []ID{{Phone, p}}
		}
	case "EMAIL":
		return []ID{{Email, strings.ToLower(value)}}
	case "IM":
		return fromIM(strings.ToUpper(valueType), value)
	}
	return nil
}

func fromIM(valueType, value string) []ID {
	switch valueType {
	case "TELEGRAM":
		return []ID{{Telegram, Handle(value)}}
	case "INSTAGRAM", "IG":
		return []ID{{Instagram, Handle(value)}}
	case "WHATSAPP", "WA":
		if p := NormalizePhone(value); p != "" {
			return []ID{{Phone, p}}
		}
		return []ID{{WhatsApp, Handle(value)}}
	case "VIBER":
		if p := NormalizePhone(value); p != "" {
			return []ID{{Phone, p}}
		}
		return []ID{{Viber, Handle(value)}}
	case "VK":
		return []ID{{VK, Handle(value)}}
	case "OPENLINE", "IMOL":
		return fromOpenLine(value)
	}
	return []ID{{Other, strings.ToLower(valueType) + ":" + Handle(value)}}
}

// fromOpenLine reads an Open Lines chat id ("imol|telegrambot|1|12345|67")
// into the messenger it came from, where the connector names one.
func fromOpenLine(value string) []ID {
	parts := strings.Split(value, "|")
	if len(parts) < 4 || parts[0] != "imol" {
		return nil
	}
	connector, user := strings.ToLower(parts[1]), parts[3]
	switch {
	case strings.Contains(connector, "telegram"):
		return []ID{{Telegram, Handle(user)}}
	case strings.Contains(connector, "whatsapp"), strings.Contains(connector, "wz_"):
		if p := NormalizePhone(user); p != "" {
			return []ID{{Phone, p}}
		}
	case strings.Contains(connector, "instagram"), strings.Contains(connector, "fbinstagram"):
		return []ID{{Instagram, Handle(user)}}
	}
	return nil
}

// ForChat is the identity of a messenger chat: what a dialog's client is
// looked up by. chatType is Wazzup's (whatsapp, instagram, telegram, viber,
// vk, avito, …) or "telegram" for the Bot API.
func ForChat(chatType, chatID string) ID {
	switch strings.ToLower(chatType) {
	case "whatsapp", "viber":
		if p := NormalizePhone(chatID); p != "" {
			return ID{Phone, p}
		}
		return ID{WhatsApp, chatID}
	case "instagram":
		return ID{Instagram, Handle(chatID)}
	case "telegram":
		return ID{Telegram, Handle(chatID)}
	case "vk":
		return ID{VK, Handle(chatID)}
	}
	return ID{Other, strings.ToLower(chatType) + ":" + chatID}
}
