package web

// Texts are a page's words in one language. Every string a page shows comes
// from here, so a language is one table.
type Texts struct {
	GeneralChat, IndividualChat                     string
	Installed, InstalledHint                        string
	InstallFailed, InstallRetry                     string
	Login, PortalAddress                            string
	AccessDenied, NotFound, Unavailable, BadRequest string
}

var texts = map[string]Texts{
	"ru": {
		GeneralChat: "Общий чат", IndividualChat: "Индивидуальный чат",
		Installed: "relay24 установлен", InstalledHint: "Общий чат — в левом меню, индивидуальный — на верхней панели карточки сделки, лида и контакта.",
		InstallFailed: "Установка не завершена", InstallRetry: "Откройте приложение ещё раз, чтобы повторить установку.",
		Login: "Войти", PortalAddress: "Адрес вашего Битрикс24",
		AccessDenied: "Нет доступа", NotFound: "Не найдено", Unavailable: "Сервис временно недоступен", BadRequest: "Неверный запрос",
	},
	"en": {
		GeneralChat: "General chat", IndividualChat: "Individual chat",
		Installed: "relay24 is installed", InstalledHint: "The general chat is in the left menu; the individual chat is on the top toolbar of deal, lead and contact cards.",
		InstallFailed: "The installation did not finish", InstallRetry: "Open the application again to retry the installation.",
		Login: "Log in", PortalAddress: "Your Bitrix24 address",
		AccessDenied: "Access denied", NotFound: "Not found", Unavailable: "Temporarily unavailable", BadRequest: "Bad request",
	},
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
