package wztest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Limits of the CRM routes (channels.md §1.12).
const (
	maxUsers       = 1000
	pageSize       = 100
	unansweredDays = 7
)

// invalidItem is one entry of the data list of INVALID_*_DATA.
type invalidItem struct {
	Index  int      `json:"index"`
	Fields []string `json:"fields"`
}

// readArray reads a JSON array of objects; a non-object item yields a nil
// entry for the caller to report.
func readArray(r *http.Request) ([]fields, bool) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxRequest))
	if err != nil {
		return nil, false
	}
	raw = bytes.TrimSpace(raw)
	var items []json.RawMessage
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &items) != nil {
		return nil, false
	}
	out := make([]fields, len(items))
	for i, it := range items {
		var f fields
		if len(bytes.TrimSpace(it)) > 0 && bytes.TrimSpace(it)[0] == '{' && json.Unmarshal(it, &f) == nil {
			out[i] = f
		}
	}
	return out, true
}

// checkLen adds key to bad when v is empty (and required) or longer than max.
func checkLen(bad *[]string, key, v string, required bool, max int) {
	if (required && strings.TrimSpace(v) == "") || len([]rune(v)) > max {
		*bad = append(*bad, key)
	}
}

// validPhone is the shape of a phone Wazzup keeps: digits with a country code.
func validPhone(p string) bool { return isDigits(p) && len(p) >= 10 && len(p) <= 15 }

// batch checks the common preconditions of an upsert: a JSON array, at most
// MaxEntities items. It answers and returns false when they fail.
func batch(w http.ResponseWriter, r *http.Request, invalidCode, invalidDesc string) ([]fields, bool) {
	items, ok := readArray(r)
	if !ok {
		fail(w, http.StatusBadRequest, invalidCode, invalidDesc, []invalidItem{})
		return nil, false
	}
	if len(items) > MaxEntities {
		fail(w, http.StatusBadRequest, "TOO_MANY_ENTITIES", "Too many entities in one request, the maximum is 100", nil)
		return nil, false
	}
	return items, true
}

func (a *Account) postUsers(w http.ResponseWriter, r *http.Request) {
	items, ok := batch(w, r, "INVALID_USERS_DATA", "Users data is invalid")
	if !ok {
		return
	}
	var invalid []invalidItem
	users := make([]User, len(items))
	for i, f := range items {
		var bad []string
		if f == nil {
			invalid = append(invalid, invalidItem{i, []string{"id", "name"}})
			continue
		}
		u := User{ID: f.str("id", &bad), Name: f.str("name", &bad), Phone: f.str("phone", &bad)}
		checkLen(&bad, "id", u.ID, true, 200)
		checkLen(&bad, "name", u.Name, true, 200)
		if !validPhone(u.Phone) {
			u.Phone = "" // "a badly formatted phone is silently dropped"
		}
		if len(bad) > 0 {
			invalid = append(invalid, invalidItem{i, uniq(bad)})
		}
		users[i] = u
	}
	if len(invalid) > 0 {
		fail(w, http.StatusBadRequest, "INVALID_USERS_DATA", "Users data is invalid", invalid)
		return
	}
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	phones := map[string]string{}
	for _, u := range a.users {
		if u.Phone != "" {
			phones[u.Phone] = u.ID
		}
	}
	next := map[string]User{}
	for i, u := range users {
		if u.Phone != "" {
			if owner, ok := phones[u.Phone]; ok && owner != u.ID {
				fail(w, http.StatusBadRequest, "DUPLICATE_PHONE_NUMBER", "Another user already has this phone number",
					[]invalidItem{{i, []string{"phone"}}})
				return
			}
			phones[u.Phone] = u.ID
		}
		next[u.ID] = u
	}
	total := len(a.users)
	for id := range next {
		if _, ok := a.users[id]; !ok {
			total++
		}
	}
	if total > maxUsers {
		fail(w, http.StatusBadRequest, "USER_LIMIT_EXCEEDED", "The account may hold at most 1000 users", nil)
		return
	}
	for id, u := range next {
		a.users[id] = u
	}
	w.WriteHeader(http.StatusOK)
}

type wireUser struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Phone string `json:"phone,omitempty"`
}

func (a *Account) listUsers(w http.ResponseWriter) {
	a.s.mu.Lock()
	out := make([]wireUser, 0, len(a.users))
	for _, u := range a.users {
		out = append(out, wireUser(u))
	}
	a.s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ID < out[j].ID
	})
	writeJSON(w, http.StatusOK, out)
}

func (a *Account) getUser(w http.ResponseWriter, id string) {
	a.s.mu.Lock()
	u, ok := a.users[id]
	a.s.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	writeJSON(w, http.StatusOK, wireUser(u))
}

type wireContactData struct {
	ChatType string `json:"chatType"`
	ChatID   string `json:"chatId,omitempty"`
	Username string `json:"username,omitempty"`
	Phone    string `json:"phone,omitempty"`
}

type wireContact struct {
	ID                string            `json:"id"`
	ResponsibleUserID string            `json:"responsibleUserId"`
	Name              string            `json:"name"`
	ContactData       []wireContactData `json:"contactData"`
	URI               string            `json:"uri,omitempty"`
}

func toWireContact(c Contact) wireContact {
	out := wireContact{ID: c.ID, ResponsibleUserID: c.ResponsibleUserID, Name: c.Name, URI: c.URI, ContactData: []wireContactData{}}
	for _, d := range c.ContactData {
		out.ContactData = append(out.ContactData, wireContactData(d))
	}
	return out
}

// contactFrom validates one contact; bad collects the offending fields.
func contactFrom(f fields, bad *[]string) Contact {
	c := Contact{
		ID: f.str("id", bad), ResponsibleUserID: f.str("responsibleUserId", bad),
		Name: f.str("name", bad), URI: f.str("uri", bad),
	}
	checkLen(bad, "id", c.ID, true, 100)
	checkLen(bad, "responsibleUserId", c.ResponsibleUserID, true, 100)
	checkLen(bad, "name", c.Name, true, 200)
	if c.URI != "" && (len(c.URI) > 200 || !validHTTPURL(c.URI)) {
		*bad = append(*bad, "uri")
	}
	var data []fields
	if !f.present("contactData") || json.Unmarshal(f["contactData"], &data) != nil || len(data) == 0 {
		*bad = append(*bad, "contactData")
		return c
	}
	for _, df := range data {
		var dbad []string
		d := ContactData{
			ChatType: df.str("chatType", &dbad), ChatID: df.str("chatId", &dbad),
			Username: df.str("username", &dbad), Phone: df.str("phone", &dbad),
		}
		switch {
		case !chatTypes[d.ChatType]:
			dbad = append(dbad, "chatType")
		case d.ChatID != "":
		case d.ChatType == "telegram" && (d.Username != "" || d.Phone != ""):
		case d.ChatType == "max" && d.Phone != "":
		default:
			dbad = append(dbad, "chatId")
		}
		if len(dbad) > 0 {
			*bad = append(*bad, "contactData")
		}
		c.ContactData = append(c.ContactData, d)
	}
	return c
}

func (a *Account) postContacts(w http.ResponseWriter, r *http.Request) {
	items, ok := batch(w, r, "INVALID_CONTACTS_DATA", "Contacts data is invalid")
	if !ok {
		return
	}
	var invalid []invalidItem
	contacts := make([]Contact, len(items))
	seen := map[string]bool{}
	duplicate := false
	for i, f := range items {
		if f == nil {
			invalid = append(invalid, invalidItem{i, []string{"id", "responsibleUserId", "name", "contactData"}})
			continue
		}
		var bad []string
		contacts[i] = contactFrom(f, &bad)
		if len(bad) > 0 {
			invalid = append(invalid, invalidItem{i, uniq(bad)})
		}
		duplicate = duplicate || seen[contacts[i].ID]
		seen[contacts[i].ID] = true
	}
	if len(invalid) > 0 {
		fail(w, http.StatusBadRequest, "INVALID_CONTACTS_DATA", "Contacts data is invalid", invalid)
		return
	}
	if duplicate {
		// Live: two items with one id in a request make Wazzup answer 500.
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	a.s.mu.Lock()
	for _, c := range contacts {
		a.contacts[c.ID] = c
	}
	a.s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// offset reads ?offset= of the paged lists.
func offset(w http.ResponseWriter, r *http.Request) (int, bool) {
	v := r.URL.Query().Get("offset")
	if v == "" {
		return 0, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		fail(w, http.StatusBadRequest, "VALIDATION_ERROR", "offset must be a non-negative integer", map[string]any{"fields": []string{"offset"}})
		return 0, false
	}
	return n, true
}

// page answers {count, data} with pageSize items from off, sorted by id.
func page[T any](w http.ResponseWriter, all []T, off int) {
	end := min(off+pageSize, len(all))
	data := []T{}
	if off < len(all) {
		data = all[off:end]
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(all), "data": data})
}

func (a *Account) listContacts(w http.ResponseWriter, r *http.Request) {
	off, ok := offset(w, r)
	if !ok {
		return
	}
	all := a.Contacts()
	out := make([]wireContact, len(all))
	for i, c := range all {
		out[i] = toWireContact(c)
	}
	page(w, out, off)
}

func (a *Account) getContact(w http.ResponseWriter, id string) {
	a.s.mu.Lock()
	c, ok := a.contacts[id]
	a.s.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	writeJSON(w, http.StatusOK, toWireContact(c))
}

// deleteOne is DELETE /v3/contacts/:id and /v3/deals/:id.
func deleteOne[T any](a *Account, w http.ResponseWriter, m map[string]T, id string) {
	a.s.mu.Lock()
	_, ok := m[id]
	delete(m, id)
	a.s.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// bulkDelete is PATCH /v3/{contacts,deals}/bulk_delete with a list of ids.
func (a *Account) bulkDelete(w http.ResponseWriter, r *http.Request, m any) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxRequest))
	var ids []string
	if err != nil || json.Unmarshal(raw, &ids) != nil {
		fail(w, http.StatusBadRequest, "VALIDATION_ERROR", "The body must be an array of ids", nil)
		return
	}
	if len(ids) > MaxEntities {
		fail(w, http.StatusBadRequest, "TOO_MANY_ENTITIES", "Too many entities in one request, the maximum is 100", nil)
		return
	}
	a.s.mu.Lock()
	for _, id := range ids {
		switch mm := m.(type) {
		case map[string]Contact:
			delete(mm, id)
		case map[string]Deal:
			delete(mm, id)
		}
	}
	a.s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

type wireDeal struct {
	ID                string   `json:"id"`
	ResponsibleUserID string   `json:"responsibleUserId"`
	Name              string   `json:"name"`
	URI               string   `json:"uri"`
	Contacts          []string `json:"contacts"`
	Closed            bool     `json:"closed"`
}

func (a *Account) postDeals(w http.ResponseWriter, r *http.Request) {
	items, ok := batch(w, r, "INVALID_DEALS_DATA", "Deals data is invalid")
	if !ok {
		return
	}
	var invalid []invalidItem
	deals := make([]Deal, len(items))
	for i, f := range items {
		if f == nil {
			invalid = append(invalid, invalidItem{i, []string{"id", "responsibleUserId", "name", "uri", "contacts", "closed"}})
			continue
		}
		var bad []string
		d := Deal{ID: f.str("id", &bad), ResponsibleUserID: f.str("responsibleUserId", &bad),
			Name: f.str("name", &bad), URI: f.str("uri", &bad)}
		checkLen(&bad, "id", d.ID, true, 100)
		checkLen(&bad, "responsibleUserId", d.ResponsibleUserID, true, 100)
		checkLen(&bad, "name", d.Name, true, 200)
		if len(d.URI) > 200 || !validHTTPURL(d.URI) {
			bad = append(bad, "uri")
		}
		if !f.present("contacts") {
			bad = append(bad, "contacts")
		} else {
			d.Contacts = f.strList("contacts", &bad)
		}
		if closed := f.boolPtr("closed", &bad); closed == nil {
			bad = append(bad, "closed")
		} else {
			d.Closed = *closed
		}
		if len(bad) > 0 {
			invalid = append(invalid, invalidItem{i, uniq(bad)})
		}
		deals[i] = d
	}
	if len(invalid) > 0 {
		fail(w, http.StatusBadRequest, "INVALID_DEALS_DATA", "Deals data is invalid", invalid)
		return
	}
	a.s.mu.Lock()
	for _, d := range deals {
		a.deals[d.ID] = d
	}
	a.s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func toWireDeal(d Deal) wireDeal {
	contacts := d.Contacts
	if contacts == nil {
		contacts = []string{}
	}
	return wireDeal{d.ID, d.ResponsibleUserID, d.Name, d.URI, contacts, d.Closed}
}

func (a *Account) listDeals(w http.ResponseWriter, r *http.Request) {
	off, ok := offset(w, r)
	if !ok {
		return
	}
	all := a.Deals()
	out := make([]wireDeal, len(all))
	for i, d := range all {
		out[i] = toWireDeal(d)
	}
	page(w, out, off)
}

func (a *Account) getDeal(w http.ResponseWriter, id string) {
	a.s.mu.Lock()
	d, ok := a.deals[id]
	a.s.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	writeJSON(w, http.StatusOK, toWireDeal(d))
}

// postPipelines stores the CRM's pipelines: [{id, name, stages?[{id, name}]}];
// an empty stages array is an error (W-PIPE). The upload replaces the list.
func (a *Account) postPipelines(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxRequest))
	var items []fields
	if err != nil || json.Unmarshal(raw, &items) != nil {
		fail(w, http.StatusBadRequest, "INVALID_PIPELINES_DATA", "Pipelines data is invalid", []invalidItem{})
		return
	}
	var invalid []invalidItem
	for i, f := range items {
		var bad []string
		checkLen(&bad, "id", f.str("id", &bad), true, 100)
		checkLen(&bad, "name", f.str("name", &bad), true, 100)
		if f.present("stages") {
			var stages []fields
			if json.Unmarshal(f["stages"], &stages) != nil || len(stages) == 0 {
				bad = append(bad, "stages")
			}
			for _, st := range stages {
				var sbad []string
				checkLen(&sbad, "id", st.str("id", &sbad), true, 100)
				checkLen(&sbad, "name", st.str("name", &sbad), true, 100)
				if len(sbad) > 0 {
					bad = append(bad, "stages")
				}
			}
		}
		if len(bad) > 0 {
			invalid = append(invalid, invalidItem{i, uniq(bad)})
		}
	}
	if len(invalid) > 0 {
		fail(w, http.StatusBadRequest, "INVALID_PIPELINES_DATA", "Pipelines data is invalid", invalid)
		return
	}
	a.s.mu.Lock()
	a.pipelines = append(json.RawMessage(nil), bytes.TrimSpace(raw)...)
	a.s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (a *Account) getPipelines(w http.ResponseWriter) {
	p := a.Pipelines()
	if len(p) == 0 {
		p = json.RawMessage("[]")
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(p)
}

// failNested is the error form of POST /v3/iframe: {"error": {code, ...}}.
func failNested(w http.ResponseWriter, code, description string, fields []string) {
	writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{
		"code": code, "description": description, "data": map[string]any{"fields": fields},
	}})
}

// postIframe is POST /v3/iframe → {"url": ...}.
func (a *Account) postIframe(w http.ResponseWriter, r *http.Request) {
	_, f, ok := readObject(r)
	if !ok {
		failNested(w, "VALIDATION_ERROR", "Request body must be a JSON object", nil)
		return
	}
	var bad []string
	var user fields
	if !f.present("user") || json.Unmarshal(f["user"], &user) != nil || user.str("id", &bad) == "" {
		bad = append(bad, "user.id")
	}
	scope := f.str("scope", &bad)
	if scope != "global" && scope != "card" {
		bad = append(bad, "scope")
	}
	if scope == "card" {
		var filter []fields
		if !f.present("filter") || json.Unmarshal(f["filter"], &filter) != nil || len(filter) == 0 {
			bad = append(bad, "filter")
		}
		for _, it := range filter {
			var fb []string
			ct, id := it.str("chatType", &fb), it.str("chatId", &fb)
			if !chatTypes[ct] || (id == "" && !(ct == "telegram" && (it.str("username", &fb) != "" || it.str("phone", &fb) != ""))) || len(fb) > 0 {
				bad = append(bad, "filter")
			}
		}
	}
	if len(bad) > 0 {
		failNested(w, "VALIDATION_ERROR", "Iframe data is invalid", uniq(bad))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"url": a.s.URL() + "/iframe/" + randomHex(16)})
}

// getUnanswered is GET /v3/unanswered/:userId: the client chats of the last
// 7 days still waiting for an answer whose contact (uploaded with
// POST /v3/contacts) the user is responsible for. An unknown user reads 0.
func (a *Account) getUnanswered(w http.ResponseWriter, userID string) {
	a.s.mu.Lock()
	now := a.s.clock()
	count := 0
	var last time.Time
	if _, known := a.users[userID]; known {
		for k, c := range a.chats {
			if !c.unanswered || now.Sub(c.lastInbound) > unansweredDays*24*time.Hour || !a.responsible(userID, k) {
				continue
			}
			count++
			if c.lastInbound.After(last) {
				last = c.lastInbound
			}
		}
	}
	a.s.mu.Unlock()
	var lastOut any
	if !last.IsZero() {
		lastOut = iso(last)
	}
	writeJSON(w, http.StatusOK, map[string]any{"counterV2": count, "type": "red", "lastMsgDateTime": lastOut})
}

// responsible reports whether a contact of the chat belongs to the user; the
// caller holds the lock.
func (a *Account) responsible(userID string, k chatKey) bool {
	for _, c := range a.contacts {
		if c.ResponsibleUserID != userID {
			continue
		}
		for _, d := range c.ContactData {
			if d.ChatType == k.chatType && d.ChatID == k.chatID {
				return true
			}
		}
	}
	return false
}

// decodeContact reads relay24's answer to createContact.
func decodeContact(b []byte) (Contact, bool) {
	var f fields
	if json.Unmarshal(b, &f) != nil {
		return Contact{}, false
	}
	var bad []string
	c := contactFrom(f, &bad)
	return c, len(bad) == 0
}

// decodeDeal reads relay24's answer to createDeal.
func decodeDeal(b []byte) (Deal, bool) {
	var d wireDeal
	if json.Unmarshal(b, &d) != nil || d.ID == "" {
		return Deal{}, false
	}
	return Deal(d), true
}
