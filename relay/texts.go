package relay

// words are what relay24 writes into the portal (timeline, notifications),
// in the portal's language.
type words struct {
	fromClient, toClient, manager, openDialog, notification, escalation string
	placeholders                                                        map[string]string
}

var catalogue = map[string]words{
	"ru": {
		fromClient: "←", toClient: "→", manager: "Менеджер", openDialog: "Открыть диалог",
		notification: "Новое сообщение от клиента %s (%s, %s). [url=%s]%s[/url]",
		escalation:   "Клиент ждёт ответа %d мин.",
		placeholders: map[string]string{
			"image": "[Изображение]", "video": "[Видео]", "audio": "[Аудио]", "voice": "[Голосовое сообщение]",
			"document": "[Документ]", "vcard": "[Контакт]", "geo": "[Геопозиция]", "sticker": "[Стикер]",
			"missing_call": "[Пропущенный звонок]", "wapi_template": "[Шаблон]", "deleted": "[Сообщение удалено]",
			"": "[Сообщение неподдерживаемого типа]",
		},
	},
	"en": {
		fromClient: "←", toClient: "→", manager: "Manager", openDialog: "Open dialog",
		notification: "New message from client %s (%s, %s). [url=%s]%s[/url]",
		escalation:   "A client has waited %d min for an answer.",
		placeholders: map[string]string{
			"image": "[Image]", "video": "[Video]", "audio": "[Audio]", "voice": "[Voice message]",
			"document": "[Document]", "vcard": "[Contact card]", "geo": "[Location]", "sticker": "[Sticker]",
			"missing_call": "[Missed call]", "wapi_template": "[Template]", "deleted": "[Message deleted]",
			"": "[Message of an unsupported type]",
		},
	},
}

func texts(lang string) words {
	if w, ok := catalogue[lang]; ok {
		return w
	}
	return catalogue["ru"]
}

// placeholder is the readable stand-in for a message without text.
func placeholder(kind, lang string) string {
	t := texts(lang)
	if p, ok := t.placeholders[kind]; ok {
		return p
	}
	return t.placeholders[""]
}

// Placeholder is the readable stand-in for a message without text, in lang.
func Placeholder(kind, lang string) string { return placeholder(kind, lang) }
