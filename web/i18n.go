package web

// Texts are a page's words in one language. Every string a page shows comes
// from here, so a language is one table: the server-rendered pages use the
// fields, the chat's JavaScript the UI map (emitted into the page as JSON).
type Texts struct {
	GeneralChat, IndividualChat                     string
	Installed, InstalledHint                        string
	InstallFailed, InstallRetry                     string
	Login, PortalAddress                            string
	AccessDenied, NotFound, Unavailable, BadRequest string
	Loading, NoScript                               string
	// UI is every string the chat page's script shows, by key.
	UI map[string]string
}

var texts = map[string]Texts{
	"ru": {
		GeneralChat: "Общий чат", IndividualChat: "Индивидуальный чат",
		Installed: "relay24 установлен", InstalledHint: "Общий чат — в левом меню, индивидуальный — на верхней панели карточки сделки, лида и контакта.",
		InstallFailed: "Установка не завершена", InstallRetry: "Откройте приложение ещё раз, чтобы повторить установку.",
		Login: "Войти", PortalAddress: "Адрес вашего Битрикс24",
		AccessDenied: "Нет доступа", NotFound: "Не найдено", Unavailable: "Сервис временно недоступен", BadRequest: "Неверный запрос",
		Loading: "Загрузка…", NoScript: "Для работы чата нужен JavaScript.",
		UI: uiRU,
	},
	"en": {
		GeneralChat: "General chat", IndividualChat: "Individual chat",
		Installed: "relay24 is installed", InstalledHint: "The general chat is in the left menu; the individual chat is on the top toolbar of deal, lead and contact cards.",
		InstallFailed: "The installation did not finish", InstallRetry: "Open the application again to retry the installation.",
		Login: "Log in", PortalAddress: "Your Bitrix24 address",
		AccessDenied: "Access denied", NotFound: "Not found", Unavailable: "Temporarily unavailable", BadRequest: "Bad request",
		Loading: "Loading…", NoScript: "The chat needs JavaScript.",
		UI: uiEN,
	},
}

var uiRU = map[string]string{
	"general_chat":       "Общий чат",
	"individual_chat":    "Индивидуальный чат",
	"dialogs":            "Диалоги",
	"contacts":           "Контакты сделки",
	"no_dialogs":         "Диалогов пока нет",
	"no_dialogs_contact": "С этим клиентом диалогов ещё нет",
	"choose_dialog":      "Выберите диалог слева",
	"no_messages":        "Сообщений пока нет",
	"loading":            "Загрузка…",
	"load_failed":        "Не удалось загрузить. Повторить",
	"offline":            "Нет связи с сервером, переподключаемся…",
	"placeholder":        "Введите сообщение",
	"hint_enter":         "Enter — отправить, Shift+Enter — новая строка",
	"hint_ctrl_enter":    "Ctrl+Enter — отправить, Enter — новая строка",
	"send":               "Отправить",
	"no_reply_needed":    "Не требует ответа",
	"nothing_waits":      "Клиент не ждёт ответа",
	"waits":              "ждёт",
	"unanswered":         "Неотвеченный",
	"you":                "Вы",
	"status_pending":     "Отправляется",
	"status_sent":        "Отправлено",
	"status_delivered":   "Доставлено",
	"status_read":        "Прочитано",
	"status_error":       "Не отправлено",
	"retry":              "Повторить",
	"read_only":          "Вы можете читать этот диалог, но не писать в него",
	"send_failed":        "Сообщение не отправлено",
	"too_long":           "Сообщение слишком длинное",
	"back":               "Назад",
	"menu":               "Контакты и диалоги",
	"channels":           "Каналы клиента",
	"client_channels":    "Переписка велась через",
	"create_dialog":      "Создать диалог",
	"choose_channel":     "Выберите канал, с которого хотите написать клиенту",
	"chat_id":            "Номер или имя пользователя (необязательно)",
	"go_to_dialog":       "Перейти в диалог",
	"cancel":             "Отмена",
	"close":              "Закрыть",
	"view_all":           "Посмотреть все диалоги",
	"all_dialogs":        "Все диалоги",
	"all_dialogs_hint":   "Вся переписка с клиентом со всех каналов",
	"open_card":          "Открыть карточку в CRM",
	"settings":           "Настройки",
	"send_key":           "Отправка сообщения",
	"send_enter":         "Enter",
	"send_ctrl_enter":    "Ctrl+Enter",
	"sound":              "Звук при новом сообщении клиента",
	"show_preview":       "Показывать текст последнего сообщения",
	"rich_links":         "Отображать богатые ссылки",
	"saved":              "Сохранено",
	"no_channels":        "Нет подключённых каналов",
	"channel_inactive":   "канал не активен",
	"load_older":         "Загрузить раньше",
	"today":              "Сегодня",
	"yesterday":          "Вчера",
	"min":                "мин",
	"hour":               "ч",
	"day":                "д",
	"just_now":           "только что",
	"no_contact":         "Клиент не привязан к контакту",
	"error":              "Ошибка",
	"attachment":         "Вложение",
	"session_expired":    "Сессия истекла — откройте чат заново",
}

var uiEN = map[string]string{
	"general_chat":       "General chat",
	"individual_chat":    "Individual chat",
	"dialogs":            "Dialogs",
	"contacts":           "Contacts",
	"no_dialogs":         "No dialogs yet",
	"no_dialogs_contact": "No dialogs with this client yet",
	"choose_dialog":      "Choose a dialog on the left",
	"no_messages":        "No messages yet",
	"loading":            "Loading…",
	"load_failed":        "Could not load. Retry",
	"offline":            "No connection to the server, reconnecting…",
	"placeholder":        "Type a message",
	"hint_enter":         "Enter sends, Shift+Enter starts a new line",
	"hint_ctrl_enter":    "Ctrl+Enter sends, Enter starts a new line",
	"send":               "Send",
	"no_reply_needed":    "No reply needed",
	"nothing_waits":      "The client is not waiting for a reply",
	"waits":              "waits",
	"unanswered":         "Unanswered",
	"you":                "You",
	"status_pending":     "Sending",
	"status_sent":        "Sent",
	"status_delivered":   "Delivered",
	"status_read":        "Read",
	"status_error":       "Not sent",
	"retry":              "Retry",
	"read_only":          "You may read this dialog but not write to it",
	"send_failed":        "The message was not sent",
	"too_long":           "The message is too long",
	"back":               "Back",
	"menu":               "Contacts and dialogs",
	"channels":           "Client's channels",
	"client_channels":    "Conversations went through",
	"create_dialog":      "Create dialog",
	"choose_channel":     "Choose the channel to write to the client from",
	"chat_id":            "Number or username (optional)",
	"go_to_dialog":       "Go to dialog",
	"cancel":             "Cancel",
	"close":              "Close",
	"view_all":           "View all dialogs",
	"all_dialogs":        "All dialogs",
	"all_dialogs_hint":   "Every conversation with the client over every channel",
	"open_card":          "Open the CRM card",
	"settings":           "Settings",
	"send_key":           "Send a message with",
	"send_enter":         "Enter",
	"send_ctrl_enter":    "Ctrl+Enter",
	"sound":              "Sound on a new client message",
	"show_preview":       "Show the last message's text",
	"rich_links":         "Show rich links",
	"saved":              "Saved",
	"no_channels":        "No channels connected",
	"channel_inactive":   "channel inactive",
	"load_older":         "Load earlier",
	"today":              "Today",
	"yesterday":          "Yesterday",
	"min":                "min",
	"hour":               "h",
	"day":                "d",
	"just_now":           "just now",
	"no_contact":         "The client is not linked to a contact",
	"error":              "Error",
	"attachment":         "Attachment",
	"session_expired":    "The session has expired; open the chat again",
}

// Lang picks a supported language from the portal's LANG; Russian by default.
func Lang(lang string) string {
	if _, ok := texts[lang]; ok {
		return lang
	}
	switch lang {
	case "ua", "by", "kz":
		return "ru"
	case "de", "la", "br", "fr", "pl", "tc", "sc", "it", "vn", "tr", "ja", "id", "ms", "th":
		return "en"
	}
	return "ru"
}

// T is the texts of a language.
func T(lang string) Texts { return texts[Lang(lang)] }
