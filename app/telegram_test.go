package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/relay24/relay24/telegram/tgtest"
)

func TestTelegramBot(t *testing.T) {
	r := newRelayEnv(t)
	const token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw8"
	bot := r.TG.AddBot(token, "relay24_shop_bot")
	var res struct {
		Channels []struct {
			ID        int64  `json:"id"`
			Transport string `json:"transport"`
			Name      string `json:"name"`
		} `json:"channels"`
	}
	if s := r.api("POST", "/api/v1/channels", r.Admin, map[string]string{"provider": "telegram", "bot_token": token}, &res); s != http.StatusCreated {
		t.Fatalf("connect bot: %d", s)
	}
	if len(res.Channels) != 1 || res.Channels[0].Name != "@relay24_shop_bot" {
		t.Fatalf("bot channel %+v", res.Channels)
	}
	url, secret := bot.Webhook()
	if !strings.HasPrefix(url, r.URL+"/webhooks/telegram/") || secret == "" {
		t.Fatalf("webhook %q secret %q", url, secret)
	}
	if s := r.api("POST", "/api/v1/channels", r.Admin, map[string]string{"provider": "telegram", "bot_token": "12:bad"}, nil); s != http.StatusBadRequest {
		t.Fatalf("malformed token: %d", s)
	}
	if s := r.api("POST", "/api/v1/channels", r.Admin, map[string]string{"provider": "telegram", "bot_token": "987654321:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw8"}, nil); s != http.StatusBadRequest {
		t.Fatalf("unknown token: %d", s)
	}

	client := tgtest.User{ID: 555001, FirstName: "Олег", LastName: "Клиентов", Username: "oleg_client"}
	if _, err := bot.UserWrites(r.ctx, client, "Добрый день, бот!"); err != nil {
		t.Fatal(err)
	}
	r.settle()
	ds := r.dialogs(r.Admin)
	if len(ds) != 1 || ds[0].ChatType != "telegram" || ds[0].ChatID != "555001" || !ds[0].Unanswered || ds[0].Contact == nil {
		t.Fatalf("telegram dialog %+v", ds)
	}
	// The created contact carries the Telegram account, so the next message finds it.
	c, ok := r.P.Contact(int(ds[0].Contact.ID))
	if !ok || len(c.IMs) != 1 || !strings.Contains(strings.ToLower(c.IMs[0].Value), "oleg_client") {
		t.Fatalf("contact %+v", c)
	}
	if s, _ := r.reply(r.Admin, ds[0].ID, "Здравствуйте, Олег!", "tg-1"); s != http.StatusAccepted {
		t.Fatalf("reply: %d", s)
	}
	r.settle()
	sent := bot.Sent()
	if len(sent) != 1 || sent[0].ChatID != 555001 || sent[0].Text != "Здравствуйте, Олег!" {
		t.Fatalf("bot sent %+v", sent)
	}
	if ms := r.messages(r.Admin, ds[0].ID); len(ms) != 2 || ms[1].Status != "sent" {
		t.Fatalf("history %+v", ms)
	}
	// A blocked bot: the reply ends in a visible error.
	bot.Block(555001)
	r.reply(r.Admin, ds[0].ID, "Вы тут?", "tg-2")
	r.settle()
	ms := r.messages(r.Admin, ds[0].ID)
	if last := ms[len(ms)-1]; last.Status != "error" || last.Error == nil || !strings.Contains(*last.Error, "blocked") {
		t.Fatalf("blocked reply: %+v", last)
	}
	// A forged update (wrong secret header) changes nothing.
	req, _ := http.NewRequest("POST", url, strings.NewReader(`{"update_id":1,"message":{"message_id":9,"date":1,"chat":{"id":1,"type":"private"},"text":"x"}}`))
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "wrong")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged update: %v %v", err, resp)
	}
	resp.Body.Close()
}

// connectBot adds a bot to the emulated Telegram and connects it to relay24
// as the admin behind token (a session) does.
func (e *env) connectBot(admin, botToken, username string) *tgtest.Bot {
	e.t.Helper()
	bot := e.TG.AddBot(botToken, username)
	if s := e.api("POST", "/api/v1/channels", admin, map[string]string{"provider": "telegram", "bot_token": botToken}, nil); s != http.StatusCreated {
		e.t.Fatalf("connecting the bot %s: %d", username, s)
	}
	return bot
}

// A photo from a Telegram client is stored with a placeholder and served
// through relay24 (the bot's token never reaches the browser).
func TestTelegramPhoto(t *testing.T) {
	r := newRelayEnv(t)
	const token = "223456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw8"
	bot := r.connectBot(r.Admin, token, "photo_bot")
	if _, err := bot.UserSendsPhoto(r.ctx, tgtest.User{ID: 777, FirstName: "Фото"}, ""); err != nil {
		t.Fatal(err)
	}
	r.settle()
	d := r.dialogs(r.Admin)[0]
	var out struct {
		Messages []struct {
			Kind        string           `json:"kind"`
			Text        string           `json:"text"`
			Attachments []attachmentJSON `json:"attachments"`
		} `json:"messages"`
	}
	r.api("GET", "/api/v1/dialogs/"+itoa64(d.ID)+"/messages", r.Admin, nil, &out)
	if len(out.Messages) != 1 || out.Messages[0].Kind != "image" || out.Messages[0].Text != "[Изображение]" ||
		len(out.Messages[0].Attachments) != 1 || strings.Contains(out.Messages[0].Attachments[0]["url"], token) {
		t.Fatalf("photo message %+v", out.Messages)
	}
	// The signed link opens with no session (an <img> in the portal's iframe has none).
	res, err := http.Get(r.URL + out.Messages[0].Attachments[0]["url"])
	if err != nil || res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("attachment: %v %+v", err, res)
	}
	res.Body.Close()
	unsigned, _, _ := strings.Cut(out.Messages[0].Attachments[0]["url"], "?")
	if res, _ := http.Get(r.URL + unsigned + "?session=" + r.Admin); res.StatusCode != http.StatusNotFound {
		t.Fatalf("attachment with a session but no signature: %d", res.StatusCode)
	}
}
