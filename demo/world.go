package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/relay24/relay24/app"
	"github.com/relay24/relay24/bitrix/b24test"
	"github.com/relay24/relay24/relay"
	"github.com/relay24/relay24/store"
	"github.com/relay24/relay24/wazzup/wztest"
)

// WazzupKey is the demo Wazzup account's API key.
const WazzupKey = "de0de0de0de0de0de0de0de0de0de024"

// Client is a demo client: who writes, from which chat of which channel.
type Client struct {
	Name      string
	Channel   wztest.Channel
	ChatType  string
	ChatID    string
	ContactID int // the portal contact, 0 when relay24 is to create one
}

// World is the demo's messaging side: a Wazzup account with a WhatsApp and
// an Instagram channel (and, in the demo, a WhatsApp Business one: AddWABA),
// connected to relay24, and clients who write.
type World struct {
	Acc     *wztest.Account
	WA, IG  wztest.Channel
	Clients []Client
	// FeaturedDeal is a deal with two contacts who both write.
	FeaturedDeal int
	// WABA is the WhatsApp Business channel (AddWABA), with its client who
	// wrote more than 24 hours ago: only a template reaches her.
	WABA       wztest.Channel
	WABAClient *Client
}

// WABASilence is how long ago the WhatsApp Business client last wrote: past
// the 24-hour window, so the composer offers the templates.
const WABASilence = 25 * time.Hour

// wabaSeedID is the provider id of the WhatsApp Business client's message.
const wabaSeedID = "5eed0000-0000-4000-8000-000000000006"

// AddWABA adds the account's WhatsApp Business channel with its approved
// templates (fixed ids, so a restarted demo finds them again) and its
// client, who wrote WABASilence ago.
func (w *World) AddWABA() Client {
	w.WABA = w.Acc.AddChannelWithID("7c3e9a10-4b2d-4f6e-8a1c-5d9e0f1a2b3c", "wapi", "79001234590", "WhatsApp Business магазина")
	body := func(text string) []wztest.TemplateComponent {
		return []wztest.TemplateComponent{{Type: "BODY", Text: text}}
	}
	for _, t := range []wztest.Template{
		{GUID: "a1b2c3d4-0001-4e5f-8a9b-0c1d2e3f4a51", Title: "Заказ готов к выдаче", Name: "order_ready",
			Components: body("Здравствуйте, {{1}}! Ваш заказ № {{2}} готов к выдаче. Ждём вас в магазине «Уютный дом» с 10 до 20.")},
		{GUID: "a1b2c3d4-0002-4e5f-8a9b-0c1d2e3f4a52", Title: "Продолжим разговор", Name: "follow_up",
			Components: body("Здравствуйте, {{1}}! Это Мария из «Уютного дома». Вы спрашивали нас о товаре — удобно продолжить разговор здесь?")},
		{GUID: "a1b2c3d4-0003-4e5f-8a9b-0c1d2e3f4a53", Title: "Доставка назначена", Name: "delivery_scheduled",
			Components: body("Добрый день! Доставка вашего заказа назначена на {{1}}. Курьер позвонит за час до приезда.")},
	} {
		t.Status, t.Language, t.Category, t.Channels = "approved", "ru", "UTILITY", []string{w.WABA.ChannelID}
		w.Acc.AddTemplate(t)
	}
	c := Client{Name: "Ольга Кузнецова", Channel: w.WABA, ChatType: "whatsapp", ChatID: "79161234509"}
	w.WABAClient = &c
	return c
}

// wabaFirst is what the WhatsApp Business client wrote.
const wabaFirst = "Добрый вечер! Отложите, пожалуйста, для меня кресло «Скандинавия» серого цвета."

// Cast are the portal's named clients the demo's conversations use: a deal
// with two contacts, added to the portal before the install so the first
// sync mirrors them.
type Cast struct {
	Anna, Boris b24test.Contact
	Deal        b24test.Deal
}

// SeedCast adds the named clients and their deal to the portal.
func SeedCast(p *b24test.Portal) Cast {
	var c Cast
	c.Anna = p.AddContact(b24test.Contact{Name: "Анна", LastName: "Морозова", AssignedByID: 2,
		Phones: []b24test.Multi{{TypeID: "PHONE", ValueType: "MOBILE", Value: "+7 916 123-45-01"}}})
	c.Boris = p.AddContact(b24test.Contact{Name: "Борис", LastName: "Орлов", AssignedByID: 2,
		Phones: []b24test.Multi{{TypeID: "PHONE", ValueType: "MOBILE", Value: "+7 916 123-45-02"}}})
	c.Deal = p.AddDeal(b24test.Deal{Title: "Поставка мебели в офис «Ромашка»", StageID: "PREPARATION", AssignedByID: 2,
		ContactIDs: []int{c.Anna.ID, c.Boris.ID}})
	return c
}

// NewWorld makes the Wazzup account of the demo on wz.
func NewWorld(wz *wztest.Server, cast Cast) *World {
	w := &World{Acc: wz.AddAccount(WazzupKey), FeaturedDeal: cast.Deal.ID}
	// Fixed channel ids: a restarted demo finds its channels and dialogs again.
	w.WA = w.Acc.AddChannelWithID("0b1d5c6e-7a3f-4e2b-9c1d-2e3f4a5b6c7d", "whatsapp", "79001234567", "WhatsApp отдела продаж")
	w.IG = w.Acc.AddChannelWithID("5f6e7d8c-9b0a-4c1d-8e2f-3a4b5c6d7e8f", "instagram", "relay24.shop", "Instagram магазина")
	w.Clients = []Client{
		{Name: "Анна Морозова", Channel: w.WA, ChatType: "whatsapp", ChatID: "79161234501", ContactID: cast.Anna.ID},
		{Name: "Борис Орлов", Channel: w.WA, ChatType: "whatsapp", ChatID: "79161234502", ContactID: cast.Boris.ID},
		{Name: "Светлана", Channel: w.WA, ChatType: "whatsapp", ChatID: "79035550123"},
		{Name: "sweet_home_decor", Channel: w.IG, ChatType: "instagram", ChatID: "sweet_home_decor"},
		{Name: "Anna M.", Channel: w.IG, ChatType: "instagram", ChatID: "anna.morozova"},
	}
	return w
}

// Connect connects the account to relay24 for the portal.
func (w *World) Connect(ctx context.Context, a *app.App, portalID int64) error {
	_, err := a.Relay.Connect(ctx, portalID, relay.ConnectRequest{Provider: "wazzup", APIKey: WazzupKey})
	return err
}

// Write makes a client write.
func (w *World) Write(ctx context.Context, c Client, text string) error {
	_, err := w.Acc.ClientWrites(ctx, c.Channel.ChannelID, c.ChatType, c.ChatID, wztest.Incoming{Text: text, ContactName: c.Name})
	return err
}

// seedMessageIDs are the provider ids of the clients' first messages: fixed,
// so a restarted demo delivers them again and relay24 files nothing twice.
var seedMessageIDs = []string{
	"5eed0000-0000-4000-8000-000000000001",
	"5eed0000-0000-4000-8000-000000000002",
	"5eed0000-0000-4000-8000-000000000003",
	"5eed0000-0000-4000-8000-000000000004",
	"5eed0000-0000-4000-8000-000000000005",
}

// seedFirst are the clients' first messages, by the client's index.
var seedFirst = []string{
	"Здравствуйте! Хочу уточнить, когда приедет доставка по нашему заказу?",
	"Добрый день. Счёт получил, оплатим завтра до обеда.",
	"Подскажите, есть ли в наличии синий диван из каталога?",
	"Hi! Do you ship to Kazakhstan? 🙂",
	"Это снова Анна, пишу из инстаграма — можно фото образцов ткани?",
}

// RecallChats tells the emulated Wazzup account who its clients are, as the
// real account remembers its chats across relay24's restarts: the echoes of
// relay24's replies carry the client's name from there. It must run before
// Connect: with no webhook registered yet, relay24 receives none of it.
func (w *World) RecallChats(ctx context.Context) error {
	for i, c := range w.Clients {
		_, err := w.Acc.ClientWrites(ctx, c.Channel.ChannelID, c.ChatType, c.ChatID, wztest.Incoming{Text: seedFirst[i%len(seedFirst)], ContactName: c.Name})
		if err != nil && !errors.Is(err, wztest.ErrNoWebhook) {
			return fmt.Errorf("demo: recalling the chat of %s: %w", c.Name, err)
		}
	}
	if c := w.WABAClient; c != nil {
		_, err := w.Acc.ClientWrites(ctx, c.Channel.ChannelID, c.ChatType, c.ChatID, wztest.Incoming{Text: wabaFirst, ContactName: c.Name,
			DateTime: time.Now().Add(-WABASilence)})
		if err != nil && !errors.Is(err, wztest.ErrNoWebhook) {
			return fmt.Errorf("demo: recalling the chat of %s: %w", c.Name, err)
		}
	}
	return nil
}

// seedWebhook is the Wazzup webhook body with every client's first message,
// a minute apart, under the fixed seed ids.
func (w *World) seedWebhook(now time.Time) ([]byte, error) {
	type contact struct {
		Name string `json:"name"`
	}
	type item struct {
		MessageID string   `json:"messageId"`
		ChannelID string   `json:"channelId"`
		ChatType  string   `json:"chatType"`
		ChatID    string   `json:"chatId"`
		DateTime  string   `json:"dateTime"`
		Type      string   `json:"type"`
		IsEcho    bool     `json:"isEcho"`
		Contact   *contact `json:"contact,omitempty"`
		Text      string   `json:"text"`
		Status    string   `json:"status"`
	}
	var body struct {
		Messages []item `json:"messages"`
	}
	for i, c := range w.Clients {
		at := now.Add(-time.Duration(len(w.Clients)-i) * time.Minute)
		body.Messages = append(body.Messages, item{
			MessageID: seedMessageIDs[i%len(seedMessageIDs)], ChannelID: c.Channel.ChannelID, ChatType: c.ChatType, ChatID: c.ChatID,
			DateTime: at.UTC().Format("2006-01-02T15:04:05.000Z"), Type: "text", Contact: &contact{Name: c.Name},
			Text: seedFirst[i%len(seedFirst)], Status: "inbound",
		})
	}
	if c := w.WABAClient; c != nil {
		body.Messages = append(body.Messages, item{
			MessageID: wabaSeedID, ChannelID: c.Channel.ChannelID, ChatType: c.ChatType, ChatID: c.ChatID,
			DateTime: now.Add(-WABASilence).UTC().Format("2006-01-02T15:04:05.000Z"), Type: "text", Contact: &contact{Name: c.Name},
			Text: wabaFirst, Status: "inbound",
		})
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("demo: encoding the seeded messages: %w", err)
	}
	return b, nil
}

// SeedDialogs starts a few conversations; one of them gets an answer. It is
// idempotent: the first messages carry fixed provider ids and the answer a
// fixed client_id, so a restarted demo adds nothing.
func (w *World) SeedDialogs(ctx context.Context, a *app.App, portalID int64) error {
	body, err := w.seedWebhook(time.Now())
	if err != nil {
		return err
	}
	status, err := w.Acc.PostRaw(ctx, body)
	if err != nil {
		return fmt.Errorf("demo: delivering the seeded messages: %w", err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("demo: relay24 answered %d to the seeded messages", status)
	}
	// Борис got his answer: his dialog is answered, the others wait.
	var dialogID int64
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		id, err := a.Store.DialogIDByChat(ctx, portalID, w.Clients[1].ChatID)
		if err == nil {
			dialogID = id
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	if dialogID == 0 {
		return fmt.Errorf("demo: the seeded messages were not filed in time")
	}
	_, err = a.Relay.Send(ctx, portalID, relay.Author{ID: 2, Name: "Мария Смирнова"}, dialogID,
		"Спасибо, Борис! Как только оплата поступит, начнём сборку.", "demo-seed-1")
	if err != nil {
		return fmt.Errorf("demo: answering the seeded dialog: %w", err)
	}
	return nil
}

// quickReplies are the demo company's saved answers (settings page; «/» in
// the composer).
var quickReplies = []struct{ title, text string }{
	{"Приветствие", "Здравствуйте! Меня зовут Мария, я менеджер «Уютного дома». Чем могу помочь?"},
	{"Реквизиты", "ООО «Уютный дом», ИНН 7701234567, р/с 40702810900000012345 в АО «Банк», БИК 044525000."},
	{"Доставка", "Доставляем по Москве за 1–2 дня, по России — транспортной компанией за 3–7 дней. Стоимость рассчитаем по адресу."},
	{"Спасибо за заказ", "Спасибо за заказ! Пришлём трек-номер, как только передадим его в доставку."},
}

// SeedQuickReplies gives the portal its saved answers, once: a restarted
// demo keeps the ones it has (and what the admin changed).
func SeedQuickReplies(ctx context.Context, a *app.App, portalID int64) error {
	have, err := a.Store.QuickReplies(ctx, portalID, 0)
	if err != nil || len(have) > 0 {
		return err
	}
	for _, q := range quickReplies {
		if err := a.Store.CreateQuickReply(ctx, &store.QuickReply{PortalID: portalID, Title: q.title, Text: q.text}); err != nil {
			return fmt.Errorf("demo: quick reply %q: %w", q.title, err)
		}
	}
	return nil
}

var (
	clientLines = []string{
		"А можно поподробнее?",
		"Подскажите, пожалуйста, сроки.",
		"Хорошо, жду от вас информацию.",
		"Скиньте, пожалуйста, счёт на почту.",
		"Есть ли скидка при заказе от двух штук?",
		"Добрый вечер! Актуально ещё предложение?",
		"Когда можно подъехать посмотреть?",
	}
	answerLines = []string{
		"Спасибо!",
		"Отлично, договорились 👍",
		"Понял, спасибо за ответ.",
		"Хорошо, тогда жду.",
		"А если доставить в субботу?",
	}
)

// Simulate runs the clients until ctx ends: now and then one of them writes,
// and every reply relay24 sends gets an answer a few seconds later. It writes
// at most budget messages.
func (w *World) Simulate(ctx context.Context, log *slog.Logger, every time.Duration, budget int) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 24))
	seen := len(w.Acc.Sent())
	type due struct {
		at   time.Time
		c    Client
		text string
	}
	var pending []due
	next := time.Now().Add(every + time.Duration(rng.Int64N(int64(every))))
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for budget > 0 {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		sent := w.Acc.Sent()
		for _, s := range sent[seen:] {
			for _, c := range w.Clients {
				if c.Channel.ChannelID == s.Request.ChannelID && c.ChatID == s.ChatID {
					pending = append(pending, due{at: time.Now().Add(3*time.Second + time.Duration(rng.IntN(3000))*time.Millisecond),
						c: c, text: answerLines[rng.IntN(len(answerLines))]})
				}
			}
		}
		seen = len(sent)
		now := time.Now()
		rest := pending[:0]
		for _, d := range pending {
			if now.Before(d.at) || budget <= 0 {
				rest = append(rest, d)
				continue
			}
			if err := w.Write(ctx, d.c, d.text); err != nil {
				log.Warn("demo: simulated client", slog.String("error", err.Error()))
			}
			budget--
		}
		pending = rest
		if now.After(next) && budget > 0 {
			c := w.Clients[rng.IntN(len(w.Clients))]
			if err := w.Write(ctx, c, clientLines[rng.IntN(len(clientLines))]); err != nil {
				log.Warn("demo: simulated client", slog.String("error", err.Error()))
			}
			budget--
			next = now.Add(every + time.Duration(rng.Int64N(int64(every))))
		}
	}
}

// waitMirrored waits until the first sync has mirrored the contacts (so the
// demo's known clients are recognised when they write).
func waitMirrored(ctx context.Context, a *app.App, portalID int64, contactIDs []int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		n := 0
		for _, id := range contactIDs {
			if _, err := a.Store.ContactByID(ctx, portalID, int64(id)); err == nil {
				n++
			}
		}
		if n == len(contactIDs) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(200 * time.Millisecond):
		}
	}
	return false
}
