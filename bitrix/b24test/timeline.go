package b24test

import (
	"net/http"
	"strconv"
	"strings"
)

// entityTypeNames maps crm entity type ids to the ENTITY_TYPE names the
// timeline comment API uses.
var entityTypeNames = map[int]string{1: "lead", 2: "deal", 3: "contact", 4: "company"}

func entityTypeID(name string) (int, bool) {
	for id, n := range entityTypeNames {
		if strings.EqualFold(n, name) {
			return id, true
		}
	}
	return 0, false
}

// crmEntityExists tells whether a lead/deal/contact exists (the emulator
// has no companies).
func (p *Portal) crmEntityExists(typeID, id int) bool {
	switch typeID {
	case 1:
		return p.leads.get(id) != nil
	case 2:
		return p.deals.get(id) != nil
	case 3:
		return p.contacts.get(id) != nil
	}
	return false
}

func (p *Portal) addTimeline(e TimelineEntry) TimelineEntry {
	p.nextTimeline++
	e.ID = p.nextTimeline
	p.timeline = append(p.timeline, e)
	return e
}

// crm.timeline.comment.add requires the lower-case "fields" key since crm
// 23.100.0; "FIELDS" is refused.
func methodTimelineCommentAdd(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	raw, has := in["fields"]
	if !has {
		return nil, errArgNull("fields")
	}
	fm, isMap := raw.(map[string]any)
	if !isMap {
		return nil, errArg("fields", "The value of an argument 'fields' must be of type array")
	}
	f := params(fm)
	id, okID := f.int("ENTITY_ID")
	if !okID || id <= 0 {
		return nil, errCRM("ENTITY_ID is not defined or invalid.")
	}
	typeName := strings.ToLower(f.str("ENTITY_TYPE"))
	typeID, known := entityTypeID(typeName)
	if !known {
		return nil, errCRM("ENTITY_TYPE is not defined or invalid.")
	}
	if !p.crmEntityExists(typeID, id) {
		return nil, errCRM("Entity not found.")
	}
	comment := f.str("COMMENT")
	if strings.TrimSpace(comment) == "" {
		return nil, errCRM("COMMENT is not defined or empty.")
	}
	author, hasAuthor := f.int("AUTHOR_ID")
	if !hasAuthor || author <= 0 {
		author = c.userID
	}
	e := p.addTimeline(TimelineEntry{Kind: "comment", EntityType: typeName, EntityTypeID: typeID, EntityID: id, AuthorID: author, Text: comment, Created: c.now})
	return ok(e.ID)
}

func methodTimelineLogMessageAdd(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	raw, has := in.get("fields")
	fm, isMap := raw.(map[string]any)
	if !has || !isMap {
		return nil, errArgNull("fields")
	}
	f := params(fm)
	typeID, okT := f.int("entityTypeId")
	id, okID := f.int("entityId")
	title, text := f.str("title"), f.str("text")
	switch {
	case !okT || typeID <= 0:
		return nil, errArgNull("entityTypeId")
	case !okID || id <= 0:
		return nil, errArgNull("entityId")
	case strings.TrimSpace(title) == "":
		return nil, errArgNull("title")
	case strings.TrimSpace(text) == "":
		return nil, errArgNull("text")
	}
	if !p.crmEntityExists(typeID, id) {
		return nil, errCode(http.StatusBadRequest, "NOT_FOUND", "Element not found")
	}
	icon := f.str("iconCode")
	if icon == "" {
		icon = "info"
	}
	e := p.addTimeline(TimelineEntry{Kind: "logmessage", EntityType: entityTypeNames[typeID], EntityTypeID: typeID, EntityID: id, AuthorID: c.userID, Title: title, Text: text, IconCode: icon, Created: c.now})
	return ok(map[string]any{"logMessage": map[string]any{
		"id": e.ID, "created": formatTime(e.Created), "authorId": e.AuthorID,
		"title": e.Title, "text": e.Text, "iconCode": e.IconCode,
	}})
}

func methodActivityTodoAdd(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	typeID, okT := in.int("ownerTypeId")
	id, okID := in.int("ownerId")
	deadlineS := in.str("deadline")
	switch {
	case !okT || typeID <= 0:
		return nil, errArgNull("ownerTypeId")
	case !okID || id <= 0:
		return nil, errArgNull("ownerId")
	case deadlineS == "":
		return nil, errArgNull("deadline")
	}
	deadline, okD := parseTime(deadlineS)
	if !okD {
		return nil, errArg("deadline", "The value of an argument 'deadline' must be a date and time")
	}
	if !p.crmEntityExists(typeID, id) {
		return nil, errCode(http.StatusBadRequest, "NOT_FOUND", "Element not found")
	}
	resp, has := in.int("responsibleId")
	if !has || resp <= 0 {
		resp = c.userID
	}
	e := p.addTimeline(TimelineEntry{Kind: "todo", EntityType: entityTypeNames[typeID], EntityTypeID: typeID, EntityID: id, AuthorID: c.userID,
		Title: in.str("title"), Text: in.str("description"), Deadline: deadline, ResponsibleID: resp, Created: c.now})
	return ok(map[string]any{"id": e.ID})
}

func methodNotifySystem(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	return p.notify(c, in, "SYSTEM")
}

func methodNotifyPersonal(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	return p.notify(c, in, "USER")
}

// notify follows CIMRestService::notifyAdd (errors USER_ID_EMPTY and
// MESSAGE_EMPTY, TO as an alias of USER_ID).
func (p *Portal) notify(c *callCtx, in params, typ string) (*restResult, *apiError) {
	to, has := in.int("USER_ID")
	if v, ok := in.get("TO"); ok {
		to, has = asInt(v)
	}
	if !has || to <= 0 {
		return nil, errCode(http.StatusBadRequest, "USER_ID_EMPTY", "User ID can't be empty")
	}
	msg := strings.TrimSpace(in.str("MESSAGE"))
	if msg == "" {
		return nil, errCode(http.StatusBadRequest, "MESSAGE_EMPTY", "Message can't be empty")
	}
	if u := p.users[to]; u == nil {
		return nil, errCode(http.StatusBadRequest, "USER_NOT_FOUND", "User not found")
	}
	from := c.userID
	if typ == "SYSTEM" {
		from = 0
	}
	p.nextNote++
	n := Notification{ID: p.nextNote, Type: typ, ToUserID: to, FromUserID: from, Message: msg,
		MessageOut: strings.TrimSpace(in.str("MESSAGE_OUT")), Tag: in.str("TAG"), SubTag: in.str("SUB_TAG"), Created: c.now}
	p.notes = append(p.notes, n)
	return ok(n.ID)
}

// crm.timeline.comment.list: filter ENTITY_ID and ENTITY_TYPE are required;
// order by ID (ASC by default); pages of 50 with total/next.
func methodTimelineCommentList(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	raw, _ := in.get("filter")
	fm, isMap := raw.(map[string]any)
	if !isMap {
		return nil, errArgNull("filter")
	}
	f := params(fm)
	id, okID := f.int("ENTITY_ID")
	typeName := strings.ToLower(f.str("ENTITY_TYPE"))
	if !okID || id <= 0 || typeName == "" {
		return nil, errCRM("ENTITY_ID and ENTITY_TYPE are required in filter.")
	}
	desc := false
	if o, ok := in.get("order"); ok {
		if om, ok := o.(map[string]any); ok {
			if v, ok := params(om).get("ID"); ok {
				s, _ := v.(string)
				desc = strings.EqualFold(s, "DESC")
			}
		}
	}
	start, _ := in.int("start")
	var found []TimelineEntry
	for _, e := range p.timeline {
		if e.Kind == "comment" && e.EntityType == typeName && e.EntityID == id {
			found = append(found, e)
		}
	}
	if desc {
		for i, j := 0, len(found)-1; i < j; i, j = i+1, j-1 {
			found[i], found[j] = found[j], found[i]
		}
	}
	return pageOf(len(found), start, func(i int) any {
		e := found[i]
		return map[string]any{"ID": strconv.Itoa(e.ID), "CREATED": formatTime(e.Created), "ENTITY_ID": strconv.Itoa(e.EntityID),
			"ENTITY_TYPE": e.EntityType, "AUTHOR_ID": strconv.Itoa(e.AuthorID), "COMMENT": e.Text, "FILES": []any{}}
	})
}
