package web

import "strings"

// The words of errors and of what relay24 writes into the portal live in the
// same catalogue as the rest of the interface: they are merged into the UI
// maps below, so a language stays one table.
//
// An API error reaches the user by its code: the key is "err_" + code (see
// ErrorText and chat.js errorText); the server's English message is shown
// only for a code this table lacks. Every text says what happened and what
// the user can do about it.

func init() {
	for _, p := range []struct{ dst, src map[string]string }{
		{uiRU, errRU}, {uiEN, errEN}, {uiRU, crmRU}, {uiEN, crmEN},
	} {
		for k, v := range p.src {
			if _, dup := p.dst[k]; dup {
				panic("web: text key " + k + " is defined twice")
			}
			p.dst[k] = v
		}
	}
}

// Word is the text of key in lang ("" when the catalogue lacks it).
func Word(lang, key string) string { return T(lang).UI[key] }

// ErrorText is the text of an error code in lang, and whether the catalogue
// has one.
func ErrorText(lang, code string) (string, bool) {
	s, ok := T(lang).UI["err_"+code]
	return s, ok
}

// FailureText is why a reply was not sent, in lang, from what
// messages.error keeps: "code" or "code: the gateway's words". A known code
// is its text, followed by the gateway's words in brackets; anything else
// (a row written before codes) is shown as it is.
func FailureText(lang, stored string) string {
	code, detail, _ := strings.Cut(stored, ": ")
	t, ok := ErrorText(lang, code)
	if !ok || strings.ContainsAny(code, " ") {
		return stored
	}
	if detail != "" {
		t += " (" + detail + ")"
	}
	return t
}

var errRU = map[string]string{
	"err_bad_robot_call":   "Вызов робота relay24 не прочитан: нет event_token или документ не сделка, лид или контакт.",
	"err_robot_no_channel": "Канал робота не найден среди каналов relay24 этого портала. Выберите канал в настройках робота заново.",
	"err_robot_no_contact": "У документа нет контакта клиента и переписки с ним в relay24: сообщение некому отправить. Телефон, записанный в самом лиде, relay24 не использует — привяжите к лиду или сделке контакт с телефоном.",
	"err_robot_no_handle":  "У клиента нет телефона или аккаунта для этого канала: сообщение не отправлено.",
	"err_robot_empty_text": "В настройках робота не указан текст сообщения.",
	// Generic: the HTTP layer, the network.
	"err_internal":                 "Что-то пошло не так на сервере relay24. Повторите попытку; если ошибка повторяется, напишите в поддержку.",
	"err_invalid":                  "Запрос не принят. Проверьте введённые данные и повторите.",
	"err_unauthorized":             "Сессия недействительна. Откройте relay24 из Битрикс24 заново.",
	"err_forbidden":                "У вас нет прав на это действие. Обратитесь к администратору портала.",
	"err_not_found":                "Не найдено: возможно, это удалено или скрыто вашими правами доступа. Обновите страницу.",
	"err_conflict":                 "Сейчас это сделать нельзя. Обновите страницу и повторите.",
	"err_too_large":                "Слишком большой объём данных. Уменьшите его и повторите.",
	"err_unavailable":              "Сервис временно недоступен. Повторите попытку через минуту.",
	"err_bad_request":              "Запрос не принят. Обновите страницу и повторите.",
	"err_method_not_allowed":       "Это действие не поддерживается. Обновите страницу.",
	"err_request_entity_too_large": "Слишком большой объём данных. Уменьшите его и повторите.",
	"err_too_many_requests":        "Слишком много запросов. Подождите немного и повторите.",
	"err_body_too_large":           "Слишком большой объём данных. Уменьшите его и повторите.",
	"err_malformed_json":           "Запрос не прочитан. Обновите страницу и повторите.",
	"err_network":                  "Нет связи с сервером. Проверьте подключение к интернету и повторите.",
	"err_http":                     "Сервер не ответил как ожидалось. Повторите попытку через минуту.",

	// Session and access.
	"err_no_session":        "Вы не вошли. Откройте relay24 из Битрикс24 или войдите заново.",
	"err_bad_session":       "Сессия истекла. Откройте relay24 из Битрикс24 заново.",
	"err_bad_authorization": "Сессия не передана. Откройте relay24 из Битрикс24 заново.",
	"err_session_in_url":    "Сессия передана неверно. Откройте relay24 из Битрикс24 заново.",
	"err_cross_origin":      "Изменения можно вносить только со страниц relay24. Откройте приложение заново.",
	"err_user_deactivated":  "Ваш пользователь отключён в Битрикс24. Обратитесь к администратору портала.",
	"err_unknown_user":      "Ваш пользователь ещё не известен relay24. Откройте приложение из Битрикс24 заново.",
	"err_admin_only":        "Это может сделать только администратор портала.",
	"err_read_only":         "Вы можете читать диалоги, но не писать в них. Права выдаёт администратор портала.",
	"err_user_not_found":    "Пользователь не найден. Обновите страницу.",

	// Dialogs and messages.
	"err_bad_dialog":                            "Выберите клиента и канал.",
	"err_dialog_not_found":                      "Диалог не найден: он удалён или скрыт вашими правами доступа. Обновите список.",
	"err_message_not_found":                     "Сообщение не найдено. Обновите диалог.",
	"err_not_retriable":                         "Повторно отправить можно только сообщение, которое не ушло. Обновите диалог.",
	"err_contact_not_found":                     "Клиент не найден или скрыт вашими правами доступа. Обновите карточку.",
	"err_entity_not_found":                      "Карточка CRM не найдена. Обновите страницу.",
	"err_channel_not_found":                     "Канал не найден или недоступен вам. Выберите другой канал.",
	"err_channel_unavailable":                   "Канал сейчас не может отправлять сообщения. Проверьте его подключение в настройках relay24.",
	"err_bad_chat_id":                           "Это не номер телефона. Введите номер полностью, с кодом страны.",
	"err_no_chat_id":                            "У клиента нет телефона или аккаунта для этого канала. Укажите его в поле ниже.",
	"err_handle_belongs_to_other_client":        "Этот номер или аккаунт уже принадлежит другому клиенту — {client}. Откройте его карточку или укажите другой номер.",
	"err_handle_belongs_to_other_client_hidden": "Этот номер или аккаунт уже принадлежит другому клиенту, которого вы не видите. Укажите другой номер или обратитесь к администратору.",
	"err_bad_client_id":                         "Сообщение не отправлено: обновите страницу и повторите.",
	"err_empty_text":                            "Введите текст сообщения.",
	"err_invalid_text":                          "В тексте есть недопустимый символ. Удалите его и повторите.",
	"err_text_too_long":                         "Текст слишком длинный. Сократите его.",
	"err_bad_cursor":                            "Не удалось загрузить историю. Обновите диалог.",
	"err_bad_entity_id":                         "Неверная карточка CRM. Откройте чат из карточки заново.",
	"err_bad_entity_type":                       "Неверная карточка CRM. Откройте чат из карточки заново.",
	"err_bad_limit":                             "Неверный запрос. Обновите страницу.",
	"err_search_empty":                          "Введите, что искать.",
	"err_search_too_long":                       "Запрос поиска слишком длинный. Сократите его.",

	// Files.
	"err_file_too_large":                    "Файл больше 25 МБ. Выберите файл поменьше.",
	"err_empty_file":                        "Файл пустой. Выберите другой файл.",
	"err_no_file":                           "Файл не получен. Выберите его ещё раз.",
	"err_not_multipart":                     "Файл не получен. Выберите его ещё раз.",
	"err_bad_multipart":                     "Файл не получен. Выберите его ещё раз.",
	"err_file_not_found":                    "Файл больше не хранится. Прикрепите его заново.",
	"err_file_too_large_for_channel":        "Канал не принимает файлы такого размера. Выберите файл поменьше.",
	"err_file_type_not_allowed_for_channel": "Канал не принимает файлы этого типа. Отправьте файл в другом формате.",
	"err_file_refused_by_channel":           "Канал не принимает этот файл. Отправьте другой файл.",
	"err_files_unavailable":                 "Хранилище файлов не настроено. Обратитесь к администратору relay24.",
	"err_link_expired":                      "Ссылка на файл устарела. Обновите диалог.",
	"err_attachment_not_found":              "Вложение не найдено. Обновите диалог.",
	"err_attachment_unavailable":            "Файл клиента недоступен: его не удалось сохранить. Попросите клиента прислать его ещё раз.",
	"err_gateway_unavailable":               "Сервис канала не отдал файл. Повторите попытку позже.",
	"err_gateway_not_found":                 "Подключение канала не найдено. Подключите канал заново в настройках.",

	// Quick replies.
	"err_quick_reply_not_found":  "Быстрый ответ не найден: возможно, его удалили. Обновите список.",
	"err_title_required":         "Введите название.",
	"err_title_too_long":         "Название слишком длинное. Сократите его.",
	"err_text_required":          "Введите текст.",
	"err_too_many_quick_replies": "Быстрых ответов слишком много. Удалите ненужные и повторите.",
	"err_bad_scope":              "Неверный вид быстрого ответа. Обновите страницу.",
	"err_scope_unchangeable":     "Нельзя сделать личный ответ общим (и наоборот). Создайте новый.",

	// Settings and channels.
	"err_bad_api_key":                  "Введите API-ключ Wazzup.",
	"err_bad_bot_token":                "Введите токен бота Telegram (его выдаёт @BotFather).",
	"err_bad_provider":                 "Выберите сервис: Wazzup или Telegram.",
	"err_gateway_rejected_credentials": "Сервис канала не принял ключ. Проверьте API-ключ Wazzup или токен бота и введите его заново.",
	"err_gateway_refused":              "Сервис канала отказал. Проверьте настройки канала в Wazzup или у бота Telegram и повторите.",
	"err_portal_unavailable":           "Битрикс24 не ответил. Повторите попытку через минуту.",
	"err_bad_channel":                  "Канал не относится к этому порталу. Обновите страницу.",
	"err_bad_category":                 "Такой воронки нет на портале. Выберите воронку из списка.",
	"err_bad_stage":                    "Такой стадии нет в выбранной воронке. Выберите стадию из списка.",
	"err_bad_responsible":              "Ответственным может быть только работающий сотрудник. Выберите другого.",
	"err_bad_responsible_mode":         "Выберите, как назначать ответственного.",
	"err_responsible_missing":          "Выберите ответственного сотрудника.",
	"err_bad_new_client":               "Выберите, что создавать для нового клиента.",
	"err_bad_escalation":               "Время до напоминания — от 0 до 1440 минут.",
	"err_bad_visibility":               "Выберите, какие диалоги видит сотрудник.",
	"err_bad_send_key":                 "Выберите клавишу отправки.",

	// Installing and opening the application, webhooks: a person meets these
	// only on an error page.
	"err_unknown_portal":          "Портал не найден: приложение не установлено. Установите relay24 из Битрикс24.Маркет.",
	"err_portal_not_found":        "Портал не найден: приложение не установлено. Установите relay24 заново.",
	"err_portal_uninstalled":      "Приложение удалено с портала. Установите relay24 заново.",
	"err_portal_auth_rejected":    "Битрикс24 не подтвердил вход. Откройте приложение заново.",
	"err_auth_missing":            "Битрикс24 не передал данные входа. Откройте приложение заново.",
	"err_member_id_mismatch":      "Данные входа относятся к другому порталу. Откройте приложение заново.",
	"err_member_id_missing":       "Битрикс24 не назвал портал. Повторите установку.",
	"err_refresh_token_missing":   "Битрикс24 не передал ключ доступа. Повторите установку.",
	"err_client_endpoint_refused": "Адрес портала не принят. Повторите установку.",
	"err_domain_mismatch":         "Адрес портала не совпадает. Повторите установку.",
	"err_not_portal_admin":        "Установить приложение может только администратор портала.",
	"err_token_user_mismatch":     "Данные установки не совпадают. Повторите установку.",
	"err_install_unproven":        "Установка не подтверждена. Установите приложение из Битрикс24.",
	"err_wrong_application_token": "Событие не от этого портала.",
	"err_malformed_event":         "Событие Битрикс24 не прочитано.",
	"err_malformed_form":          "Данные от Битрикс24 не прочитаны. Откройте приложение заново.",
	"err_bad_placement":           "Приложение открыто не из карточки CRM. Откройте его из сделки, лида или контакта.",
	"err_wrong_placement":         "Приложение открыто не в том месте. Откройте его из карточки CRM.",
	"err_bad_state":               "Вход не завершён. Повторите вход.",
	"err_code_missing":            "Битрикс24 не подтвердил вход. Повторите вход.",
	"err_malformed_webhook":       "Уведомление сервиса канала не прочитано.",
	"err_malformed_update":        "Уведомление Telegram не прочитано.",
	"err_unknown_webhook":         "Уведомление пришло для неизвестного подключения.",
	"err_unstorable_webhook":      "Уведомление сервиса канала нельзя сохранить.",
	"err_unreadable_body":         "Уведомление не прочитано.",
	"err_bad_secret_token":        "Уведомление Telegram не подтверждено.",

	// Why a reply was not sent (stored on the message, shown under it).
	"err_send_channel_disconnected":   "Канал отключён. Подключите его в настройках и отправьте сообщение заново.",
	"err_send_credentials_unreadable": "Ключ канала не читается. Подключите канал заново в настройках и повторите отправку.",
	"err_send_uncertain":              "Неизвестно, ушло ли сообщение: связь прервалась. Проверьте переписку и при необходимости отправьте снова.",
	"err_send_unknown_provider":       "Канал этого типа не поддерживается. Выберите другой канал.",
	"err_send_not_confirmed":          "Сервис канала не подтвердил отправку вовремя. Проверьте переписку и при необходимости отправьте снова.",
	"err_send_no_answer":              "Сервис канала не ответил. Проверьте переписку и при необходимости отправьте снова.",
	"err_send_bot_cannot_start":       "Бот Telegram может писать только тем, кто написал ему первым. Попросите клиента написать боту.",
	"err_send_file_gone":              "Файл больше не хранится. Прикрепите его заново и отправьте.",
	"err_send_refused":                "Сервис канала отказался отправить сообщение. Проверьте номер клиента и канал, затем отправьте снова.",
	"err_send_failed_after_file":      "Не отправлено, потому что не ушёл файл перед ним. Отправьте снова.",
	// WhatsApp Business templates and the reply window.
	"err_window_closed":           "Клиент писал слишком давно: окно для ответа закрыто. В WhatsApp Business отправьте шаблон; в Instagram дождитесь нового сообщения клиента.",
	"err_templates_not_supported": "Этот канал не отправляет шаблоны. Напишите обычное сообщение.",
	"err_template_not_found":      "Шаблон не найден или не одобрен для этого канала. Обновите список шаблонов и выберите другой.",
	"err_template_required":       "Выберите шаблон.",
	"err_template_values_count":   "Заполнены не все поля шаблона. Обновите список шаблонов и заполните каждое поле.",
	"err_template_value_empty":    "Заполните все поля шаблона.",
	"err_template_with_text":      "Шаблон отправляется без текста и файла. Уберите текст или файл.",
	"err_template_not_approved":   "WhatsApp не принял шаблон: он не одобрен. Выберите другой шаблон.",
	"err_template_values_refused": "WhatsApp не принял значения шаблона. Проверьте поля и отправьте снова.",
	"err_template_too_long":       "Шаблон с подставленными значениями слишком длинный. Сократите значения.",
	"err_template_not_retriable":  "Шаблон нельзя отправить повторно этой кнопкой. Выберите его снова в списке шаблонов.",
	"err_waba_balance_empty":      "Баланс WhatsApp Business в Wazzup пуст. Пополните его в Wazzup и отправьте снова.",

	// Link previews («богатые ссылки»).
	"err_invalid_url":             "Это не ссылка http или https, которую можно показать карточкой. Ссылка остаётся обычной.",
	"err_private_url":             "Ссылка ведёт во внутреннюю сеть: карточку для неё relay24 не строит. Ссылка остаётся обычной.",
	"err_preview_image_not_found": "Картинку ссылки получить не удалось. Обновите диалог.",
}

var errEN = map[string]string{
	"err_bad_robot_call":           "The relay24 robot call could not be read: no event_token, or the document is not a deal, lead or contact.",
	"err_robot_no_channel":         "The robot's channel is not one of this portal's relay24 channels. Choose the channel in the robot's settings again.",
	"err_robot_no_contact":         "The document has no client contact and no relay24 conversation: there is nobody to send the message to. relay24 does not use a phone written on the lead itself — link a contact with a phone to the lead or deal.",
	"err_robot_no_handle":          "The client has no phone number or account for this channel: the message was not sent.",
	"err_robot_empty_text":         "The robot's settings have no message text.",
	"err_internal":                 "Something went wrong on relay24's server. Try again; if it keeps happening, contact support.",
	"err_invalid":                  "The request was not accepted. Check what you entered and try again.",
	"err_unauthorized":             "Your session is not valid. Open relay24 from Bitrix24 again.",
	"err_forbidden":                "You may not do this. Ask your portal's administrator.",
	"err_not_found":                "Not found: it may have been deleted or be hidden by your access rights. Reload the page.",
	"err_conflict":                 "This cannot be done right now. Reload the page and try again.",
	"err_too_large":                "Too much data. Make it smaller and try again.",
	"err_unavailable":              "The service is temporarily unavailable. Try again in a minute.",
	"err_bad_request":              "The request was not accepted. Reload the page and try again.",
	"err_method_not_allowed":       "This action is not supported. Reload the page.",
	"err_request_entity_too_large": "Too much data. Make it smaller and try again.",
	"err_too_many_requests":        "Too many requests. Wait a moment and try again.",
	"err_body_too_large":           "Too much data. Make it smaller and try again.",
	"err_malformed_json":           "The request could not be read. Reload the page and try again.",
	"err_network":                  "No connection to the server. Check your internet connection and try again.",
	"err_http":                     "The server did not answer as expected. Try again in a minute.",

	"err_no_session":        "You are not logged in. Open relay24 from Bitrix24 or log in again.",
	"err_bad_session":       "Your session has expired. Open relay24 from Bitrix24 again.",
	"err_bad_authorization": "No session was sent. Open relay24 from Bitrix24 again.",
	"err_session_in_url":    "The session was sent the wrong way. Open relay24 from Bitrix24 again.",
	"err_cross_origin":      "Changes can be made only from relay24's own pages. Open the application again.",
	"err_user_deactivated":  "Your user is deactivated in Bitrix24. Ask your portal's administrator.",
	"err_unknown_user":      "relay24 does not know your user yet. Open the application from Bitrix24 again.",
	"err_admin_only":        "Only a portal administrator can do this.",
	"err_read_only":         "You may read dialogs but not write in them. Your portal's administrator grants this right.",
	"err_user_not_found":    "User not found. Reload the page.",

	"err_bad_dialog":                            "Choose a client and a channel.",
	"err_dialog_not_found":                      "Dialog not found: it was deleted or is hidden by your access rights. Reload the list.",
	"err_message_not_found":                     "Message not found. Reload the dialog.",
	"err_not_retriable":                         "Only a message that was not sent can be sent again. Reload the dialog.",
	"err_contact_not_found":                     "Client not found or hidden by your access rights. Reload the card.",
	"err_entity_not_found":                      "CRM card not found. Reload the page.",
	"err_channel_not_found":                     "Channel not found or not available to you. Choose another channel.",
	"err_channel_unavailable":                   "The channel cannot send messages now. Check its connection in relay24's settings.",
	"err_bad_chat_id":                           "This is not a phone number. Enter the full number with the country code.",
	"err_no_chat_id":                            "The client has no phone number or account for this channel. Enter it in the field below.",
	"err_handle_belongs_to_other_client":        "This number or account already belongs to another client, {client}. Open their card or enter another number.",
	"err_handle_belongs_to_other_client_hidden": "This number or account already belongs to another client whom you cannot see. Enter another number or ask your administrator.",
	"err_bad_client_id":                         "The message was not sent: reload the page and try again.",
	"err_empty_text":                            "Type the message text.",
	"err_invalid_text":                          "The text holds a character that cannot be sent. Remove it and try again.",
	"err_text_too_long":                         "The text is too long. Shorten it.",
	"err_bad_cursor":                            "The history could not be loaded. Reload the dialog.",
	"err_bad_entity_id":                         "Wrong CRM card. Open the chat from the card again.",
	"err_bad_entity_type":                       "Wrong CRM card. Open the chat from the card again.",
	"err_bad_limit":                             "Bad request. Reload the page.",
	"err_search_empty":                          "Type what to search for.",
	"err_search_too_long":                       "The search is too long. Shorten it.",

	"err_file_too_large":                    "The file is over 25 MB. Choose a smaller file.",
	"err_empty_file":                        "The file is empty. Choose another file.",
	"err_no_file":                           "The file did not arrive. Choose it again.",
	"err_not_multipart":                     "The file did not arrive. Choose it again.",
	"err_bad_multipart":                     "The file did not arrive. Choose it again.",
	"err_file_not_found":                    "The file is no longer stored. Attach it again.",
	"err_file_too_large_for_channel":        "The channel does not take files this large. Choose a smaller file.",
	"err_file_type_not_allowed_for_channel": "The channel does not take files of this type. Send the file in another format.",
	"err_file_refused_by_channel":           "The channel does not take this file. Send another file.",
	"err_files_unavailable":                 "File storage is not set up. Ask relay24's administrator.",
	"err_link_expired":                      "The file link has expired. Reload the dialog.",
	"err_attachment_not_found":              "Attachment not found. Reload the dialog.",
	"err_attachment_unavailable":            "The client's file is unavailable: it could not be saved. Ask the client to send it again.",
	"err_gateway_unavailable":               "The channel's service did not return the file. Try again later.",
	"err_gateway_not_found":                 "The channel's connection was not found. Connect the channel again in the settings.",

	"err_quick_reply_not_found":  "Quick reply not found: it may have been deleted. Reload the list.",
	"err_title_required":         "Enter a title.",
	"err_title_too_long":         "The title is too long. Shorten it.",
	"err_text_required":          "Enter the text.",
	"err_too_many_quick_replies": "There are too many quick replies. Delete the ones you do not need and try again.",
	"err_bad_scope":              "Wrong kind of quick reply. Reload the page.",
	"err_scope_unchangeable":     "A personal reply cannot become the portal's (or the other way). Create a new one.",

	"err_bad_api_key":                  "Enter the Wazzup API key.",
	"err_bad_bot_token":                "Enter the Telegram bot token (@BotFather gives it).",
	"err_bad_provider":                 "Choose a service: Wazzup or Telegram.",
	"err_gateway_rejected_credentials": "The channel's service did not accept the key. Check the Wazzup API key or the bot token and enter it again.",
	"err_gateway_refused":              "The channel's service refused. Check the channel's settings in Wazzup or the Telegram bot and try again.",
	"err_portal_unavailable":           "Bitrix24 did not answer. Try again in a minute.",
	"err_bad_channel":                  "The channel is not this portal's. Reload the page.",
	"err_bad_category":                 "The portal has no such pipeline. Choose a pipeline from the list.",
	"err_bad_stage":                    "The chosen pipeline has no such stage. Choose a stage from the list.",
	"err_bad_responsible":              "Only an active employee can be responsible. Choose another.",
	"err_bad_responsible_mode":         "Choose how the responsible person is assigned.",
	"err_responsible_missing":          "Choose the responsible employee.",
	"err_bad_new_client":               "Choose what to create for a new client.",
	"err_bad_escalation":               "The reminder time is 0 to 1440 minutes.",
	"err_bad_visibility":               "Choose which dialogs the employee sees.",
	"err_bad_send_key":                 "Choose the key that sends.",

	"err_unknown_portal":          "Portal not found: the application is not installed. Install relay24 from the Bitrix24 Market.",
	"err_portal_not_found":        "Portal not found: the application is not installed. Install relay24 again.",
	"err_portal_uninstalled":      "The application was removed from the portal. Install relay24 again.",
	"err_portal_auth_rejected":    "Bitrix24 did not confirm the login. Open the application again.",
	"err_auth_missing":            "Bitrix24 sent no login data. Open the application again.",
	"err_member_id_mismatch":      "The login data belongs to another portal. Open the application again.",
	"err_member_id_missing":       "Bitrix24 did not name the portal. Install again.",
	"err_refresh_token_missing":   "Bitrix24 sent no access key. Install again.",
	"err_client_endpoint_refused": "The portal's address was not accepted. Install again.",
	"err_domain_mismatch":         "The portal's address does not match. Install again.",
	"err_not_portal_admin":        "Only a portal administrator can install the application.",
	"err_token_user_mismatch":     "The installation data does not match. Install again.",
	"err_install_unproven":        "The installation is not confirmed. Install the application from Bitrix24.",
	"err_wrong_application_token": "The event is not from this portal.",
	"err_malformed_event":         "The Bitrix24 event could not be read.",
	"err_malformed_form":          "The data from Bitrix24 could not be read. Open the application again.",
	"err_bad_placement":           "The application was not opened from a CRM card. Open it from a deal, lead or contact.",
	"err_wrong_placement":         "The application was opened in the wrong place. Open it from a CRM card.",
	"err_bad_state":               "The login did not finish. Log in again.",
	"err_code_missing":            "Bitrix24 did not confirm the login. Log in again.",
	"err_malformed_webhook":       "The channel service's notification could not be read.",
	"err_malformed_update":        "The Telegram notification could not be read.",
	"err_unknown_webhook":         "The notification came for an unknown connection.",
	"err_unstorable_webhook":      "The channel service's notification cannot be stored.",
	"err_unreadable_body":         "The notification could not be read.",
	"err_bad_secret_token":        "The Telegram notification is not authenticated.",

	"err_send_channel_disconnected":   "The channel is disconnected. Connect it in the settings and send the message again.",
	"err_send_credentials_unreadable": "The channel's key cannot be read. Connect the channel again in the settings and resend.",
	"err_send_uncertain":              "It is unknown whether the message left: the connection broke. Check the chat and resend if needed.",
	"err_send_unknown_provider":       "Channels of this kind are not supported. Choose another channel.",
	"err_send_not_confirmed":          "The channel's service did not confirm the send in time. Check the chat and resend if needed.",
	"err_send_no_answer":              "The channel's service did not answer. Check the chat and resend if needed.",
	"err_send_bot_cannot_start":       "A Telegram bot can write only to those who wrote to it first. Ask the client to write to the bot.",
	"err_send_file_gone":              "The file is no longer stored. Attach it again and send.",
	"err_send_refused":                "The channel's service refused to send the message. Check the client's number and the channel, then send again.",
	"err_send_failed_after_file":      "Not sent because the file before it did not go. Send again.",
	// WhatsApp Business templates and the reply window.
	"err_window_closed":           "The client wrote too long ago: the reply window is closed. On WhatsApp Business send a template; on Instagram wait for the client's next message.",
	"err_templates_not_supported": "This channel sends no templates. Write a plain message.",
	"err_template_not_found":      "The template is not found or not approved for this channel. Reload the templates and choose another.",
	"err_template_required":       "Choose a template.",
	"err_template_values_count":   "Not every field of the template is filled. Reload the templates and fill each field.",
	"err_template_value_empty":    "Fill every field of the template.",
	"err_template_with_text":      "A template is sent without text or a file. Remove the text or the file.",
	"err_template_not_approved":   "WhatsApp refused the template: it is not approved. Choose another template.",
	"err_template_values_refused": "WhatsApp refused the template's values. Check the fields and send again.",
	"err_template_too_long":       "The filled template is too long. Shorten the values.",
	"err_template_not_retriable":  "A template cannot be sent again with this button. Choose it again in the template list.",
	"err_waba_balance_empty":      "The WhatsApp Business balance at Wazzup is empty. Top it up at Wazzup and send again.",

	// Link previews (rich links).
	"err_invalid_url":             "This is not an http or https link that can be shown as a card. It stays a plain link.",
	"err_private_url":             "The link points into a private network: relay24 does not build a card for it. It stays a plain link.",
	"err_preview_image_not_found": "The link's picture could not be fetched. Reload the dialog.",
}

// crm* are what relay24 writes into the portal (timeline, notifications), in
// the portal's language.
var crmRU = map[string]string{
	"crm_from_client": "←", "crm_to_client": "→", "crm_manager": "Менеджер", "crm_open_dialog": "Открыть диалог",
	"crm_notification": "Новое сообщение от клиента %s (%s, %s). [url=%s]%s[/url]",
	"crm_escalation":   "Клиент ждёт ответа %d мин.",
	"crm_robot":        "Робот relay24", "crm_robot_for": "Робот relay24 (за %s)",
	"crm_robot_sent": "relay24: сообщение отправлено (№ %s)", "crm_robot_pending": "relay24: сообщение принято к отправке (№ %s)",
	"crm_robot_failed":  "relay24: сообщение не отправлено — %s (%s)",
	"placeholder_image": "[Изображение]", "placeholder_video": "[Видео]", "placeholder_audio": "[Аудио]",
	"placeholder_voice": "[Голосовое сообщение]", "placeholder_document": "[Документ]", "placeholder_vcard": "[Контакт]",
	"placeholder_geo": "[Геопозиция]", "placeholder_sticker": "[Стикер]", "placeholder_missing_call": "[Пропущенный звонок]",
	"placeholder_wapi_template": "[Шаблон]", "placeholder_deleted": "[Сообщение удалено]",
	"placeholder_unsupported": "[Сообщение неподдерживаемого типа]",
}

var crmEN = map[string]string{
	"crm_from_client": "←", "crm_to_client": "→", "crm_manager": "Manager", "crm_open_dialog": "Open dialog",
	"crm_notification": "New message from client %s (%s, %s). [url=%s]%s[/url]",
	"crm_escalation":   "A client has waited %d min for an answer.",
	"crm_robot":        "relay24 robot", "crm_robot_for": "relay24 robot (for %s)",
	"crm_robot_sent": "relay24: message sent (no. %s)", "crm_robot_pending": "relay24: message accepted for sending (no. %s)",
	"crm_robot_failed":  "relay24: message not sent — %s (%s)",
	"placeholder_image": "[Image]", "placeholder_video": "[Video]", "placeholder_audio": "[Audio]",
	"placeholder_voice": "[Voice message]", "placeholder_document": "[Document]", "placeholder_vcard": "[Contact card]",
	"placeholder_geo": "[Location]", "placeholder_sticker": "[Sticker]", "placeholder_missing_call": "[Missed call]",
	"placeholder_wapi_template": "[Template]", "placeholder_deleted": "[Message deleted]",
	"placeholder_unsupported": "[Message of an unsupported type]",
}
