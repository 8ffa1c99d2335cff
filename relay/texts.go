package relay

import "github.com/relay24/relay24/web"

// words are what relay24 writes into the portal (timeline, notifications),
// in the portal's language. They live in the one ru/en catalogue (web).
type words struct {
	fromClient, toClient, manager, openDialog, notification, escalation string
}

// crmLang is the language of what relay24 writes into the portal: English
// for an English portal, Russian otherwise (as it always was).
func crmLang(lang string) string {
	if lang == "en" {
		return "en"
	}
	return "ru"
}

func texts(lang string) words {
	lang = crmLang(lang)
	w := func(k string) string { return web.Word(lang, k) }
	return words{fromClient: w("crm_from_client"), toClient: w("crm_to_client"), manager: w("crm_manager"),
		openDialog: w("crm_open_dialog"), notification: w("crm_notification"), escalation: w("crm_escalation")}
}

// placeholder is the readable stand-in for a message without text.
func placeholder(kind, lang string) string {
	lang = crmLang(lang)
	if kind != "" {
		if p := web.Word(lang, "placeholder_"+kind); p != "" {
			return p
		}
	}
	return web.Word(lang, "placeholder_unsupported")
}

// Placeholder is the readable stand-in for a message without text, in lang.
func Placeholder(kind, lang string) string { return placeholder(kind, lang) }
