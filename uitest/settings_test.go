package uitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/relay24/relay24/bitrix/b24test"
	"github.com/relay24/relay24/demo"
	"github.com/relay24/relay24/placement"
)

// ---- helpers of the settings tests ----

// settingsJSON is what GET /api/v1/settings says about the rules.
type settingsJSON struct {
	NewClient            string `json:"new_client"`
	DealCategoryID       int64  `json:"deal_category_id"`
	DealStageID          string `json:"deal_stage_id"`
	ResponsibleMode      string `json:"responsible_mode"`
	ResponsibleUserID    *int64 `json:"responsible_user_id"`
	Notify               bool   `json:"notify"`
	EscalateAfterMinutes int    `json:"escalate_after_minutes"`
}

func (e *env) settings() settingsJSON {
	e.t.Helper()
	var out struct {
		Settings settingsJSON `json:"settings"`
	}
	if s := e.api("GET", "/api/v1/settings", e.Admin, nil, &out); s != http.StatusOK {
		e.t.Fatalf("settings: %d", s)
	}
	return out.Settings
}

// channelState is the state relay24 stores for a channel.
func (e *env) channelState(id int64) string {
	e.t.Helper()
	var out struct {
		Channels []struct {
			ID    int64  `json:"id"`
			State string `json:"state"`
		} `json:"channels"`
	}
	e.api("GET", "/api/v1/channels", e.Admin, nil, &out)
	for _, c := range out.Channels {
		if c.ID == id {
			return c.State
		}
	}
	return ""
}

// unbindPlacement removes relay24's binding of a placement on the emulated
// portal, as an administrator could from the portal's side.
func (e *env) unbindPlacement(code string) {
	e.t.Helper()
	tok := e.P.IssueTokens(1)
	b, _ := json.Marshal(map[string]any{"auth": tok.Access, "PLACEMENT": code})
	res, err := http.Post(e.P.ClientEndpoint()+"placement.unbind", "application/json", bytes.NewReader(b))
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		e.t.Fatalf("placement.unbind: %d", res.StatusCode)
	}
	for _, pb := range e.P.Placements() {
		if pb.Placement == code {
			e.t.Fatalf("%s is still bound", code)
		}
	}
}

// openSettings presses «Настройки» on the chat page and waits until every
// section has loaded.
func (tb *tab) openSettings() {
	tb.t.Helper()
	tb.click("#settings-btn")
	tb.waitJS(`document.querySelector('#settings[data-ready="true"]') !== null && !document.querySelector("#settings").hidden`)
}

// choose picks an option of a select as a user does (the change event fires).
func (tb *tab) choose(sel, value string) {
	tb.t.Helper()
	tb.waitJS(`document.querySelector(` + q(sel) + `) !== null`)
	if !tb.yes(`(() => { const s = document.querySelector(` + q(sel) + `); s.focus(); s.value = ` + q(value) + `;
		s.dispatchEvent(new Event("input", {bubbles: true})); s.dispatchEvent(new Event("change", {bubbles: true})); return s.value === ` + q(value) + ` })()`) {
		tb.t.Fatalf("%s has no option %q", sel, value)
	}
}

// scrollTo brings a settings section to the top of the view.
func (tb *tab) scrollTo(sel string) {
	tb.t.Helper()
	tb.yes(`(() => { document.querySelector(` + q(sel) + `).scrollIntoView({block: "start"}); return true })()`)
}

func userRowSel(id int) string { return fmt.Sprintf(".user-row[data-user-id='%d']", id) }

// settingsPortal adds a small company structure: two departments under the
// root, a nested one, and a deactivated employee.
func settingsPortal(p *b24test.Portal) {
	p.AddDepartment(b24test.Department{ID: 2, Name: "Отдел продаж", Parent: 1, Head: 2})
	p.AddDepartment(b24test.Department{ID: 3, Name: "Поддержка", Parent: 1})
	p.AddDepartment(b24test.Department{ID: 4, Name: "Сервисный центр", Parent: 3})
	p.AddUser(b24test.User{ID: 2, Name: "Мария", LastName: "Смирнова", Active: true, Departments: []int{2}})
	p.AddUser(b24test.User{ID: 4, Name: "Ольга", LastName: "Кузнецова", Active: true, Departments: []int{4}})
	p.AddUser(b24test.User{ID: 5, Name: "Пётр", LastName: "Иванов", Active: false, Departments: []int{2}})
}

// ---- the tests ----

// The admin opens the settings from the general chat: channels with their
// states (one needs a QR scan), employees by department, the new-client rule,
// notifications, the left-menu button with repair, and the first sync.
func TestSettingsAdminPage(t *testing.T) {
	e := newEnvWith(t, settingsPortal)
	qrID := e.chans[e.WA3.ChannelID]
	if err := e.World.Acc.SetChannelState(e.ctx, e.WA3.ChannelID, "qr", "2@qr-code-data"); err != nil {
		t.Fatal(err)
	}
	e.eventually("relay24 learns the channel needs a QR scan", func() bool { return e.channelState(qrID) == "qr" })

	tb := e.open(generalChat, 1280, 800)
	tb.waitJS(`!document.querySelector("#settings-btn").hidden`)
	if got := tb.str(`document.querySelector("#settings-btn").textContent`); got != "Настройки" {
		t.Errorf("the settings button says %q", got)
	}
	tb.openSettings()

	// 1. Channels.
	tb.waitJS(`document.querySelectorAll("#channel-list .ch-row").length === 4`)
	qrRow := fmt.Sprintf(`#channel-list .ch-row[data-channel-id='%d']`, qrID)
	if !tb.yes(`document.querySelector("` + qrRow + `").getAttribute("data-state") === "qr" && document.querySelector("` + qrRow + ` .ch-state.bad") !== null`) {
		t.Error("the channel that needs a QR scan is not marked red")
	}
	if got := tb.str(`document.querySelector("` + qrRow + ` .ch-state-text").textContent`); got != "Нужно отсканировать QR-код" {
		t.Errorf("QR channel state %q", got)
	}
	if n := tb.num(`document.querySelectorAll("#channel-list .ch-state.ok").length`); n != 3 {
		t.Errorf("%d channels shown active, want 3", n)
	}
	if got := tb.str(`document.querySelector("#channel-list .ch-state.ok .ch-state-text").textContent`); got != "Работает" {
		t.Errorf("active channel state %q", got)
	}
	if n := tb.num(`document.querySelectorAll("#channel-list .ch-row .tr-whatsapp").length`); n != 3 {
		t.Errorf("%d WhatsApp icons, want 3", n)
	}
	if !tb.yes(`document.documentElement.scrollWidth <= innerWidth`) {
		t.Error("the settings scroll sideways at 1280×800")
	}
	tb.shot("settings-channels")

	// 2. Employees, grouped by department in tree order.
	tb.waitJS(`document.querySelectorAll("#user-list .dep").length >= 4`)
	order := tb.str(`[...document.querySelectorAll("#user-list .dep")].map(d => d.getAttribute("data-department-id") + ":" + d.getAttribute("data-depth")).join(",")`)
	if order != "1:0,2:1,3:1,4:2" {
		t.Errorf("departments in order %s, want 1:0,2:1,3:1,4:2", order)
	}
	if !tb.yes(`document.querySelector(".dep[data-department-id='2'] ` + userRowSel(2) + `") !== null`) {
		t.Error("Мария is not under «Отдел продаж»")
	}
	if !tb.yes(`document.querySelector(".dep[data-department-id='4'] ` + userRowSel(4) + `") !== null`) {
		t.Error("Ольга is not under «Сервисный центр»")
	}
	if !tb.yes(`document.querySelector("` + userRowSel(1) + ` .badge-admin") !== null`) {
		t.Error("the admin has no admin badge")
	}
	if tb.yes(`document.querySelector("` + userRowSel(5) + `") !== null`) {
		if !tb.yes(`document.querySelector("` + userRowSel(5) + `").classList.contains("inactive") && document.querySelector("` + userRowSel(5) + ` .badge-fired").textContent === "уволен"`) {
			t.Error("the deactivated employee is not greyed and marked «уволен»")
		}
	} else {
		t.Log("the deactivated employee is not listed by /api/v1/users")
	}
	if got := tb.str(`document.querySelector("` + userRowSel(2) + ` .acc-visibility").value`); got != "own" {
		t.Errorf("Мария's visibility shows %q, want own", got)
	}
	tb.scrollTo("#set-users")
	tb.shot("settings-users")

	// An access change saves at once.
	tb.click(userRowSel(2) + " .acc-receives_new_clients")
	tb.waitJS(`document.querySelector("` + userRowSel(2) + ` .save-state").getAttribute("data-state") === "saved"`)
	var acc struct {
		ReceivesNewClients bool `json:"receives_new_clients"`
		ChannelIDs         []int64
	}
	e.api("GET", "/api/v1/access/2", e.Admin, nil, &acc)
	if acc.ReceivesNewClients {
		t.Error("unticking «Получает новых клиентов» was not saved")
	}
	// A subset of channels.
	tb.click(userRowSel(2) + " .acc-channels summary")
	tb.click(userRowSel(2) + " .acc-ch-all")
	tb.waitJS(`document.querySelector("` + userRowSel(2) + ` .save-state").getAttribute("data-state") === "saved" && !document.querySelector("` + userRowSel(2) + ` .acc-ch").disabled`)
	tb.click(fmt.Sprintf("%s .acc-ch[data-channel-id='%d']", userRowSel(2), qrID))
	tb.waitJS(`document.querySelector("` + userRowSel(2) + ` .acc-channels-summary").textContent === "Каналы: 3 из 4"`)
	tb.waitJS(`document.querySelector("` + userRowSel(2) + ` .save-state").getAttribute("data-state") === "saved"`)
	var acc2 struct {
		ChannelIDs []int64 `json:"channel_ids"`
	}
	e.api("GET", "/api/v1/access/2", e.Admin, nil, &acc2)
	if len(acc2.ChannelIDs) != 3 {
		t.Errorf("Мария's channels %v, want 3 of them", acc2.ChannelIDs)
	}
	tb.shot("settings-users-channels")

	// 3. New clients: a lead, then a deal in a chosen stage, a fixed person.
	tb.scrollTo("#set-newclient")
	tb.click("#set-new_client-lead")
	tb.waitJS(`document.querySelector("#newclient-state").getAttribute("data-state") === "saved"`)
	e.eventually("the new-client rule is saved as lead", func() bool { return e.settings().NewClient == "lead" })
	tb.click("#set-new_client-deal")
	tb.waitJS(`document.querySelector("#set-stage") !== null && document.querySelector("#set-pipeline").value === "0"`)
	tb.choose("#set-stage", "EXECUTING")
	e.eventually("the deal stage is saved", func() bool {
		s := e.settings()
		return s.NewClient == "deal" && s.DealStageID == "EXECUTING" && s.DealCategoryID == 0
	})
	tb.click("#set-responsible_mode-fixed")
	tb.waitJS(`!document.querySelector("#set-responsible-user").disabled`)
	tb.choose("#set-responsible-user", "2")
	e.eventually("the fixed responsible is saved", func() bool {
		s := e.settings()
		return s.ResponsibleMode == "fixed" && s.ResponsibleUserID != nil && *s.ResponsibleUserID == 2
	})
	tb.waitJS(`document.querySelector("#newclient-state").getAttribute("data-state") === "saved"`)
	tb.shot("settings-new-clients")

	// 4. Notifications: escalation after 12 minutes.
	if got := tb.str(`document.querySelector("#set-escalate").value`); got != "5" {
		t.Errorf("escalation shows %q, want the default 5", got)
	}
	tb.scrollTo("#set-notify")
	tb.run(chromedp.SetValue("#set-escalate", "12"))
	tb.yes(`document.querySelector("#set-escalate").dispatchEvent(new Event("change", {bubbles: true}))`)
	e.eventually("the escalation delay is saved", func() bool { return e.settings().EscalateAfterMinutes == 12 })
	tb.waitJS(`document.querySelector("#notify-state").getAttribute("data-state") === "saved"`)
	// With notifications off the delay still counts (the automation's
	// «Нет ответа клиенту» trigger) and can be changed.
	tb.yes(`(document.querySelector("#set-notify input[type=checkbox]").click(), true)`)
	e.eventually("notifications are off", func() bool { return !e.settings().Notify })
	tb.waitJS(`!document.querySelector("#set-escalate").disabled && document.querySelector("#escalate-trigger-hint").textContent.includes("Нет ответа клиенту")`)
	tb.waitJS(`document.querySelector("#notify-state").getAttribute("data-state") === "saved"`)
	tb.yes(`(document.querySelector("#set-notify input[type=checkbox]").click(), true)`)
	e.eventually("notifications are on again", func() bool { return e.settings().Notify })

	// 5. The left-menu button: a placement unbound on the portal, repaired.
	e.unbindPlacement(placement.LeadToolbar)
	tb.click("#settings-back")
	tb.waitJS(`document.querySelector("#settings").hidden && document.querySelector("#dialog-list") !== null`)
	tb.openSettings()
	tb.scrollTo("#set-placements")
	tb.waitJS(`document.querySelector("#placement-list [data-placement='CRM_LEAD_DETAIL_TOOLBAR']").getAttribute("data-bound") === "false"`)
	if !tb.yes(`document.querySelector("#placements-status").getAttribute("data-ok") === "false"`) {
		t.Error("a missing placement is not reported")
	}
	tb.shot("settings-placements-missing")
	tb.click("#repair-btn")
	tb.waitJS(`document.querySelector("#placements-status").getAttribute("data-ok") === "true"`)
	if n := tb.num(`document.querySelectorAll("#placement-list .pl-item[data-bound='true']").length`); n != 5 {
		t.Errorf("%d bound items after repair, want 4 placements and the events", n)
	}
	// The robot and the triggers are listed with their state.
	tb.waitJS(`document.querySelectorAll("#automation-list .pl-item[data-state='registered']").length === 3`)
	if !tb.yes(`document.querySelector("#automation-list [data-code='relay24_send']").textContent.includes("Робот «Отправить сообщение (relay24)»")`) {
		t.Error("the robot is not named in the repair's answer")
	}
	found := false
	for _, pb := range e.P.Placements() {
		found = found || pb.Placement == placement.LeadToolbar
	}
	if !found {
		t.Error("repair did not bind the lead toolbar on the portal")
	}
	if !tb.yes(`document.querySelector("#set-placements .set-steps").textContent.includes("Добавить всем")`) {
		t.Error("no steps to add the menu item for everyone")
	}
	tb.shot("settings-placements")

	// 6. The first sync is complete.
	tb.scrollTo("#set-sync")
	tb.waitJS(`document.querySelector("#sync-progress[data-complete='true']") !== null`)
	if n := tb.num(`document.querySelectorAll("#sync-progress .sync-row[data-phase='done']").length`); n != 5 {
		t.Errorf("%d entities done, want 5", n)
	}
	tb.shot("settings-sync")

	// Disconnect (with a confirmation in the page) and connect again.
	tb.scrollTo("#set-channels")
	first := e.chans[e.World.WA.ChannelID]
	row := fmt.Sprintf(`#channel-list .ch-row[data-channel-id='%d']`, first)
	tb.click(row + " .ch-disconnect")
	tb.waitJS(`document.querySelector("` + row + ` .ch-confirm-yes") !== null`)
	tb.shot("settings-disconnect-confirm")
	tb.click(row + " .ch-confirm-yes")
	tb.waitJS(`(() => { const r = document.querySelector("` + row + `"); return r === null || r.querySelector(".ch-state.bad") !== null })()`)
	// The account's channels are gone (or shown as not working).
	if !tb.yes(`[...document.querySelectorAll("#channel-list .ch-row")].every(r => r.querySelector(".ch-state.bad") !== null)`) {
		t.Error("a disconnected account's channel still shows as working")
	}
	tb.shot("settings-disconnected")
	tb.run(chromedp.SendKeys("#connect-key", demo.WazzupKey))
	tb.click("#connect-btn")
	tb.waitJS(`document.querySelector("#connect-state") && document.querySelector("#connect-state").getAttribute("data-state") === "saved"`)
	tb.waitJS(`document.querySelectorAll("#channel-list .ch-row").length === 4 && document.querySelector("` + row + ` .ch-state.ok") !== null`)
	if got := tb.str(`document.querySelector("#connect-state").textContent`); got != "✓ Подключено" {
		t.Errorf("connect state %q", got)
	}
	tb.shot("settings-reconnected")
}

// The judged scenario: a salesperson's general chat is open; the admin, in
// another tab, changes her visibility; her list follows without a reload.
func TestSettingsAccessChangesLive(t *testing.T) {
	e := newEnv(t)
	e.write(e.client("Анна Морозова"), "Здравствуйте, я по заказу")
	e.write(e.client("Светлана"), "Есть ли синий диван?")
	e.write(e.client("sweet_home_decor"), "Доставляете в Казань?")
	all := len(e.dialogs())
	maria := e.session(2)
	var mine struct {
		Dialogs []dialog `json:"dialogs"`
	}
	e.api("GET", "/api/v1/dialogs", maria, nil, &mine)
	own := len(mine.Dialogs)
	if own >= all {
		t.Fatalf("Мария sees %d of %d dialogs under «own»; the scenario needs fewer", own, all)
	}

	sales := e.open(generalChat+"&user=2", 1280, 800)
	sales.waitJS(fmt.Sprintf(`document.querySelectorAll(".dialog-row").length === %d`, own))
	sales.waitJS(`document.querySelector("#app").getAttribute("data-live") === "true"`)
	sales.yes(`(window.__noReload = "still here", true)`)
	sales.shot("settings-live-sales-own")

	admin := e.open(generalChat, 1280, 800)
	admin.openSettings()
	admin.waitJS(`document.querySelector("` + userRowSel(2) + ` .acc-visibility") !== null`)
	admin.scrollTo("#set-users")

	// «Нет»: every dialog disappears from her list.
	admin.choose(userRowSel(2)+" .acc-visibility", "none")
	admin.waitJS(`document.querySelector("` + userRowSel(2) + ` .save-state").getAttribute("data-state") === "saved"`)
	admin.shot("settings-live-admin-none")
	sales.waitJS(`document.querySelectorAll(".dialog-row").length === 0 && document.querySelector("#dialog-list .list-empty") !== null`)
	if got := sales.str(`String(window.__noReload)`); got != "still here" {
		t.Fatalf("the salesperson's page reloaded (marker %q)", got)
	}
	sales.shot("settings-live-sales-none")

	// «Все»: she sees every dialog, still without a reload.
	admin.choose(userRowSel(2)+" .acc-visibility", "all")
	admin.waitJS(`document.querySelector("` + userRowSel(2) + ` .save-state").getAttribute("data-state") === "saved" && document.querySelector("` + userRowSel(2) + `").getAttribute("data-visibility") === "all"`)
	sales.waitJS(fmt.Sprintf(`document.querySelectorAll(".dialog-row").length === %d`, all))
	if got := sales.str(`String(window.__noReload)`); got != "still here" {
		t.Fatalf("the salesperson's page reloaded (marker %q)", got)
	}
	if n := sales.num(`performance.getEntriesByType("navigation").length`); n != 1 {
		t.Errorf("%d navigations in the salesperson's tab", n)
	}
	sales.shot("settings-live-sales-all")

	// And a new client's message reaches her live under the new rule.
	if err := e.World.Write(e.ctx, e.client("Светлана"), "А зелёный есть?"); err != nil {
		t.Fatal(err)
	}
	sales.waitJS(`[...document.querySelectorAll(".dialog-row .row-preview-text")].some(n => n.textContent === "А зелёный есть?")`)
	if got := sales.str(`String(window.__noReload)`); got != "still here" {
		t.Fatalf("the salesperson's page reloaded (marker %q)", got)
	}
}

// A salesperson sees no settings entry and the API refuses him.
func TestSettingsNotForNonAdmins(t *testing.T) {
	e := newEnv(t)
	tb := e.open(generalChat+"&user=2", 1280, 800)
	if !tb.yes(`document.querySelector("#settings-btn") === null || document.querySelector("#settings-btn").hidden`) {
		t.Error("a non-admin sees the settings button")
	}
	if !tb.yes(`document.querySelector("#settings-btn") === null || document.querySelector("#settings-btn").offsetParent === null`) {
		t.Error("the settings button is visible to a non-admin")
	}
	maria := e.session(2)
	for _, path := range []string{"/api/v1/settings", "/api/v1/users", "/api/v1/sync"} {
		var out struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		if s := e.api("GET", path, maria, nil, &out); s != http.StatusForbidden {
			t.Errorf("GET %s for a non-admin: %d, want 403", path, s)
		} else if out.Error.Code == "" {
			t.Errorf("GET %s: 403 without an error code", path)
		}
	}
	tb.shot("settings-non-admin")
}

// On a phone the settings are one readable column with no sideways scroll;
// an English-speaking admin gets them in English.
func TestSettingsPhoneAndEnglish(t *testing.T) {
	e := newEnvWith(t, settingsPortal)
	tb := e.open(generalChat, 360, 740)
	tb.waitJS(`!document.querySelector("#settings-btn").hidden`)
	tb.shot("settings-phone-entry")
	tb.openSettings()
	tb.waitJS(`document.querySelectorAll("#channel-list .ch-row").length === 4`)
	tb.waitJS(`document.querySelector("` + userRowSel(2) + `") !== null`)
	fits := `document.documentElement.scrollWidth <= innerWidth && document.querySelector("#settings").scrollWidth <= document.querySelector("#settings").clientWidth`
	if !tb.yes(fits) {
		t.Error("the settings scroll sideways at 360 px")
	}
	// Every control of an employee row is within the screen.
	if !tb.yes(`[...document.querySelectorAll("` + userRowSel(2) + ` select, ` + userRowSel(2) + ` input, ` + userRowSel(2) + ` summary")].every(n => { const r = n.getBoundingClientRect(); return r.width === 0 || (r.left >= 0 && r.right <= innerWidth) })`) {
		t.Error("an employee's controls overflow the phone screen")
	}
	tb.shot("settings-phone")
	tb.scrollTo("#set-users")
	tb.shot("settings-phone-users")
	tb.scrollTo("#set-newclient")
	tb.shot("settings-phone-new-clients")
	tb.scrollTo("#set-placements")
	tb.shot("settings-phone-placements")
	if !tb.yes(fits) {
		t.Error("the settings scroll sideways at 360 px")
	}

	en := e.open(generalChat+"&user=3", 1280, 800)
	en.waitJS(`!document.querySelector("#settings-btn").hidden`)
	en.openSettings()
	if got := en.str(`document.querySelector(".set-title").textContent`); got != "Integration settings" {
		t.Errorf("English title %q", got)
	}
	en.waitJS(`document.querySelector("#repair-btn").textContent === "Repair"`)
	en.shot("settings-en")
}
