package wazzup

import (
	"strings"
	"unicode/utf16"
)

// Channel transports (the transport field of GET /v3/channels).
const (
	TransportWhatsApp  = "whatsapp"  // WhatsApp account
	TransportWABA      = "wapi"      // WhatsApp Business API
	TransportInstagram = "instagram" // Instagram
	TransportTgAPI     = "tgapi"     // Telegram personal account
	TransportTelegram  = "telegram"  // Telegram bot
	TransportVK        = "vk"
	TransportAvito     = "avito"
	TransportViber     = "viber"
	TransportMax       = "max"
	TransportMaxBot    = "maxbot"
)

// ChatTypeFor returns the one-to-one chatType a channel of the transport sends
// to, or "" for a transport Wazzup does not document. Only wapi → whatsapp is
// shown by the documentation; the rest follow the names (channels.md §1.2).
func ChatTypeFor(transport string) string {
	switch strings.ToLower(strings.TrimSpace(transport)) {
	case TransportWhatsApp, TransportWABA:
		return "whatsapp"
	case TransportInstagram:
		return "instagram"
	case TransportTelegram, TransportTgAPI:
		return "telegram"
	case TransportVK:
		return "vk"
	case TransportAvito:
		return "avito"
	case TransportViber:
		return "viber"
	case TransportMax, TransportMaxBot:
		return "max"
	}
	return ""
}

// TextLimit is the longest text, in TextLen units, a message through a channel
// of the transport may carry. The documentation's tables disagree (channels.md
// §1.4); these are the English page's figures, the error table's for Viber,
// and 4096 for anything unknown.
func TextLimit(transport string) int {
	switch strings.ToLower(strings.TrimSpace(transport)) {
	case TransportWhatsApp:
		return 10000
	case TransportInstagram, TransportVK, TransportAvito:
		return 1000
	case TransportTelegram, TransportTgAPI, TransportWABA:
		return 4096
	case TransportViber:
		return 6999
	}
	return 4096
}

// TextLen measures a text the way Wazzup's Node.js backend most likely does
// (String.prototype.length): in UTF-16 code units, so an emoji counts twice.
// Measuring so is never more lenient than counting characters.
func TextLen(s string) int {
	n := 0
	for _, r := range s {
		if utf16.RuneLen(r) == 2 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// ActiveState reports whether a channel state lets messages through. States
// are compared case-insensitively since the documented lists disagree on case
// (qr/qridle, openElsewhere/openelsewhere); anything but "active" is not.
func ActiveState(state string) bool {
	return strings.EqualFold(strings.TrimSpace(state), "active")
}
