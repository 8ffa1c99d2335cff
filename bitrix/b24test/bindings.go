package b24test

import (
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// placementInfo is what the portal knows about a placement code: the scope
// that makes it available and how many bindings one app may have (0 = any).
type placementInfo struct {
	scope    string // "" = always available
	maxCount int
	userMode bool // USER_ID allowed
}

var crmPlacementEntities = []string{"LEAD", "DEAL", "CONTACT", "COMPANY", "QUOTE", "SMART_INVOICE", "ORDER", "ACTIVITY", "INVOICE"}

// knownPlacements are the placement codes placement.bind accepts.
var knownPlacements = func() map[string]placementInfo {
	m := map[string]placementInfo{
		"LEFT_MENU":                {},
		"REST_APP_URI":             {maxCount: 1},
		"PAGE_BACKGROUND_WORKER":   {maxCount: 1, userMode: true},
		"IM_CONTEXT_MENU":          {scope: "im"},
		"IM_NAVIGATION":            {scope: "im"},
		"IM_SIDEBAR":               {scope: "im"},
		"IM_TEXTAREA":              {scope: "im"},
		"IM_SMILES_SELECTOR":       {scope: "im"},
		"CALL_CARD":                {scope: "telephony"},
		"TELEPHONY_ANALYTICS_MENU": {scope: "telephony"},
		"SETTING_CONNECTOR":        {scope: "imopenlines"},
		"CONTACT_CENTER":           {scope: "contact_center"},
		"TASK_VIEW_TAB":            {scope: "task"},
		"TASK_VIEW_SIDEBAR":        {scope: "task"},
		"TASK_LIST_CONTEXT_MENU":   {scope: "task"},
		"USER_PROFILE_MENU":        {scope: "user"},
		"USER_PROFILE_TOOLBAR":     {scope: "user"},
		"CRM_ANALYTICS_MENU":       {scope: "crm"},
		"CRM_FUNNELS_TOOLBAR":      {scope: "crm"},
	}
	for _, e := range crmPlacementEntities {
		for _, kind := range []string{"DETAIL_TOOLBAR", "DETAIL_TAB", "LIST_MENU", "LIST_TOOLBAR", "DETAIL_ACTIVITY", "ACTIVITY_TIMELINE_MENU", "DOCUMENTGENERATOR_BUTTON", "ROBOT_DESIGNER_TOOLBAR"} {
			m["CRM_"+e+"_"+kind] = placementInfo{scope: "crm"}
		}
	}
	return m
}()

var dynamicPlacement = regexp.MustCompile(`^CRM_DYNAMIC_\d+_(DETAIL_TOOLBAR|DETAIL_TAB|LIST_MENU|LIST_TOOLBAR|DETAIL_ACTIVITY|ACTIVITY_TIMELINE_MENU)$`)

func lookupPlacement(code string) (placementInfo, bool) {
	if info, ok := knownPlacements[code]; ok {
		return info, true
	}
	if dynamicPlacement.MatchString(code) {
		return placementInfo{scope: "crm"}, true
	}
	return placementInfo{}, false
}

// eventScopes maps every event event.bind accepts to the scope it needs
// ("" = basic).
var eventScopes = func() map[string]string {
	m := map[string]string{
		"ONAPPINSTALL": "", "ONAPPUNINSTALL": "", "ONAPPUPDATE": "", "ONAPPPAYMENT": "",
		"ONAPPTEST": "", "ONAPPMETHODCONFIRM": "", "ONOFFLINEEVENT": "",
		"ONUSERADD":               "user",
		"ONIMCONNECTORMESSAGEADD": "imconnector", "ONIMCONNECTORMESSAGEUPDATE": "imconnector",
		"ONIMCONNECTORMESSAGEDELETE": "imconnector", "ONIMCONNECTORDIALOGSTART": "imconnector",
		"ONIMCONNECTORDIALOGFINISH": "imconnector", "ONIMCONNECTORLINEDELETE": "imconnector",
		"ONIMCONNECTORSTATUSDELETE": "imconnector",
		"ONOPENLINEMESSAGEADD":      "imopenlines", "ONOPENLINEMESSAGEUPDATE": "imopenlines",
		"ONOPENLINEMESSAGEDELETE": "imopenlines", "ONSESSIONSTART": "imopenlines", "ONSESSIONFINISH": "imopenlines",
		"ONIMBOTMESSAGEADD": "imbot", "ONIMBOTMESSAGEUPDATE": "imbot", "ONIMBOTMESSAGEDELETE": "imbot",
		"ONIMBOTJOINCHAT": "imbot", "ONIMBOTDELETE": "imbot", "ONIMCOMMANDADD": "imbot",
		"ONTASKADD": "task", "ONTASKUPDATE": "task", "ONTASKDELETE": "task",
		"ONTASKCOMMENTADD": "task", "ONTASKCOMMENTUPDATE": "task", "ONTASKCOMMENTDELETE": "task",
		"ONVOXIMPLANTCALLINIT": "telephony", "ONVOXIMPLANTCALLSTART": "telephony", "ONVOXIMPLANTCALLEND": "telephony",
		"ONEXTERNALCALLSTART": "telephony", "ONEXTERNALCALLBACKSTART": "telephony",
	}
	for _, e := range []string{"LEAD", "DEAL", "CONTACT", "COMPANY", "QUOTE", "INVOICE", "ACTIVITY", "TIMELINECOMMENT", "PRODUCT", "REQUISITE"} {
		for _, op := range []string{"ADD", "UPDATE", "DELETE"} {
			m["ONCRM"+e+op] = "crm"
		}
	}
	m["ONCRMDEALMOVETOCATEGORY"] = "crm"
	m["ONCRMLEADUSERFIELDADD"] = "crm"
	m["ONCRMDEALUSERFIELDADD"] = "crm"
	m["ONCRMCONTACTUSERFIELDADD"] = "crm"
	return m
}()

// checkHandlerURL is HandlerHelper::checkCallback: an http(s) URL whose host
// contains a dot ("localhost" is refused, 127.0.0.1 passes).
func checkHandlerURL(h string) *apiError {
	u, err := url.Parse(h)
	if err != nil || u.Host == "" || strings.IndexByte(u.Hostname(), '.') <= 0 {
		return errCode(http.StatusBadRequest, "ERROR_WRONG_HANDLER_URL", "Wrong handler URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errCode(http.StatusBadRequest, "ERROR_UNSUPPORTED_PROTOCOL", "Unsupported handler protocol")
	}
	return nil
}

func (p *Portal) bindID() int {
	id := p.nextBindID
	p.nextBindID++
	return id
}

// errHandlerAlreadyBound is the portal's answer to a second identical
// binding: the table's uniqueness check surfaces as ERROR_CORE.
func errHandlerAlreadyBound(what string) *apiError {
	return errCode(http.StatusBadRequest, "ERROR_CORE", "Unable to set "+what+" handler: Handler already binded")
}

func methodPlacementBind(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	if !c.admin {
		return nil, errAccessDenied("")
	}
	code := strings.ToUpper(strings.TrimSpace(in.str("PLACEMENT")))
	handler := in.str("HANDLER")
	if code == "" {
		return nil, errArgNull("PLACEMENT")
	}
	if code == "DEFAULT" {
		return nil, errArg("PLACEMENT", "Wrong value")
	}
	if handler == "" {
		return nil, errArgNull("HANDLER")
	}
	if e := checkHandlerURL(handler); e != nil {
		return nil, e
	}
	info, known := lookupPlacement(code)
	if !known || (info.scope != "" && !p.scope[info.scope]) {
		return nil, errCode(http.StatusBadRequest, "ERROR_PLACEMENT_NOT_FOUND", "Placement not found")
	}
	userID, _ := in.int("USER_ID")
	if userID > 0 && !info.userMode {
		return nil, errCode(http.StatusBadRequest, "ERROR_PLACEMENT_USER_MODE", "User mode is not available.")
	}
	var options map[string]any
	if ov, ok := in.get("OPTIONS"); ok {
		options, _ = asMap(ov)
	}
	if code == "PAGE_BACKGROUND_WORKER" {
		if s, _ := asString(options["errorHandlerUrl"]); s == "" {
			// The placement's register callback returns this error array,
			// which the REST server sends with HTTP 200.
			return nil, errCode(http.StatusOK, "EMPTY_ERROR_HANDLER_URL", "Parameter errorHandlerUrl is required")
		}
	}
	if info.maxCount > 0 {
		n := 0
		for _, b := range p.placements {
			if b.Placement == code {
				n++
			}
		}
		if n >= info.maxCount {
			return nil, errCode(http.StatusBadRequest, "ERROR_PLACEMENT_MAX_COUNT", "Placement max count: "+strconv.Itoa(info.maxCount))
		}
	}
	for _, b := range p.placements {
		if b.Placement == code && b.Handler == handler {
			return nil, errHandlerAlreadyBound("placement")
		}
	}
	b := PlacementBinding{ID: p.bindID(), Placement: code, Handler: handler, UserID: userID, Options: options,
		Title: strings.TrimSpace(in.str("TITLE")), Description: strings.TrimSpace(in.str("DESCRIPTION")),
		GroupName: strings.TrimSpace(in.str("GROUP_NAME")), LangAll: map[string]map[string]string{}}
	if la, ok := in.get("LANG_ALL"); ok {
		if lm, isMap := asMap(la); isMap && len(lm) > 0 {
			for lang, v := range lm {
				item, _ := asMap(v)
				ip := params(item)
				b.LangAll[lang] = map[string]string{
					"TITLE":       strings.TrimSpace(ip.str("TITLE")),
					"DESCRIPTION": strings.TrimSpace(ip.str("DESCRIPTION")),
					"GROUP_NAME":  strings.TrimSpace(ip.str("GROUP_NAME")),
				}
			}
			def := b.LangAll[p.lang]
			if def == nil {
				for _, v := range b.LangAll {
					def = v
					break
				}
			}
			b.Title, b.Description, b.GroupName = def["TITLE"], def["DESCRIPTION"], def["GROUP_NAME"]
		}
	}
	if len(b.LangAll) == 0 && (b.Title != "" || b.Description != "" || b.GroupName != "") {
		b.LangAll[p.lang] = map[string]string{"TITLE": b.Title, "DESCRIPTION": b.Description, "GROUP_NAME": b.GroupName}
	}
	p.placements = append(p.placements, b)
	return ok(true)
}

func methodPlacementUnbind(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	if !c.admin {
		return nil, errAccessDenied("")
	}
	code := strings.ToUpper(strings.TrimSpace(in.str("PLACEMENT")))
	if code == "" {
		return nil, errArgNull("PLACEMENT")
	}
	handler := in.str("HANDLER")
	userV, hasUser := in.get("USER_ID")
	userID, _ := asInt(userV)
	count := 0
	kept := p.placements[:0]
	for _, b := range p.placements {
		if b.Placement == code && (handler == "" || b.Handler == handler) && (!hasUser || b.UserID == userID) {
			// Placement::unbind counts every deleted row twice (once when
			// found, once when deleted); clients see that doubled count.
			count += 2
			continue
		}
		kept = append(kept, b)
	}
	p.placements = kept
	return ok(map[string]any{"count": count})
}

func methodPlacementGet(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	if !c.admin {
		return nil, errAccessDenied("")
	}
	out := []any{}
	for _, b := range p.placements {
		var options any = []any{}
		if len(b.Options) > 0 {
			options = b.Options
		}
		langAll := newOmap()
		langs := make([]string, 0, len(b.LangAll))
		for l := range b.LangAll {
			langs = append(langs, l)
		}
		sort.Strings(langs)
		for _, l := range langs {
			v := b.LangAll[l]
			lo := newOmap()
			lo.set("TITLE", v["TITLE"])
			lo.set("DESCRIPTION", v["DESCRIPTION"])
			lo.set("GROUP_NAME", v["GROUP_NAME"])
			langAll.set(l, lo)
		}
		out = append(out, map[string]any{
			"placement": b.Placement, "userId": b.UserID, "handler": b.Handler, "options": options,
			"title": b.Title, "description": b.Description, "langAll": langAll,
		})
	}
	return ok(out)
}

func methodPlacementList(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	var out []string
	full := asBool(in.str("FULL"))
	scope := in.str("SCOPE")
	for code, info := range knownPlacements {
		switch {
		case scope != "":
			if info.scope != scope {
				continue
			}
		case !full:
			if info.scope != "" && !p.scope[info.scope] {
				continue
			}
		}
		out = append(out, code)
	}
	sort.Strings(out)
	return ok(out)
}

func methodEventBind(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	name := strings.ToUpper(strings.TrimSpace(in.str("EVENT")))
	eventType := strings.ToLower(strings.TrimSpace(in.str("EVENT_TYPE")))
	authType, _ := in.int("AUTH_TYPE")
	handler := in.str("HANDLER")
	if authType > 0 {
		if !c.admin && authType != c.userID {
			return nil, errAccessDenied("Event binding with AUTH_TYPE requires administrator access rights")
		}
	} else if !c.admin {
		authType = c.userID
	}
	if name == "" {
		return nil, errArgNull("EVENT")
	}
	switch eventType {
	case "":
		eventType = "online"
	case "online", "offline":
	default:
		return nil, errArg("EVENT_TYPE", "Value must be one of {online|offline}")
	}
	if eventType == "offline" {
		if !c.admin {
			return nil, errAccessDenied("Offline events binding requires administrator access rights")
		}
		handler, authType = "", 0
	} else if handler == "" {
		return nil, errArgNull("HANDLER")
	}
	if handler != "" {
		if e := checkHandlerURL(handler); e != nil {
			return nil, e
		}
	}
	scope, known := eventScopes[name]
	if !known || (scope != "" && !p.scope[scope]) {
		return nil, errCode(http.StatusBadRequest, "ERROR_EVENT_NOT_FOUND", "Event not found")
	}
	if handler == "" && name == "ONOFFLINEEVENT" {
		return nil, errCode(http.StatusBadRequest, "ERROR_ARGUMENT", "Offline event cannot be registered for this event.")
	}
	for _, b := range p.eventBinds {
		if b.Event == name && b.Handler == handler && b.AuthType == authType {
			return nil, errHandlerAlreadyBound("event")
		}
	}
	p.eventBinds = append(p.eventBinds, EventBinding{ID: p.bindID(), Event: name, Handler: handler, AuthType: authType, Offline: eventType == "offline"})
	return ok(true)
}

func methodEventUnbind(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	name := strings.ToUpper(strings.TrimSpace(in.str("EVENT")))
	eventType := strings.ToLower(strings.TrimSpace(in.str("EVENT_TYPE")))
	handler := in.str("HANDLER")
	if name == "" {
		return nil, errArgNull("EVENT")
	}
	switch eventType {
	case "":
		eventType = "online"
	case "online", "offline":
	default:
		return nil, errArg("EVENT_TYPE", "Value must be one of {online|offline}")
	}
	matchUser := func(EventBinding) bool { return true }
	if eventType == "offline" {
		if !c.admin {
			return nil, errAccessDenied("Offline events unbinding requires administrator access rights")
		}
		handler = ""
	} else {
		if handler == "" {
			return nil, errArgNull("HANDLER")
		}
		if v, has := in.get("AUTH_TYPE"); has {
			at, _ := asInt(v)
			if !c.admin && at != c.userID {
				return nil, errAccessDenied("Event unbinding with AUTH_TYPE requires administrator access rights")
			}
			matchUser = func(b EventBinding) bool { return b.AuthType == at }
		} else if !c.admin {
			matchUser = func(b EventBinding) bool { return b.AuthType == c.userID }
		}
	}
	count := 0
	kept := p.eventBinds[:0]
	for _, b := range p.eventBinds {
		if b.Event == name && b.Handler == handler && b.Offline == (eventType == "offline") && matchUser(b) {
			count++
			continue
		}
		kept = append(kept, b)
	}
	p.eventBinds = kept
	return ok(map[string]any{"count": count})
}

func methodEventGet(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	out := []any{}
	for _, b := range p.eventBinds {
		if !c.admin && b.AuthType != c.userID {
			continue
		}
		if b.Offline {
			out = append(out, map[string]any{"event": b.Event, "connector_id": "", "offline": 1})
			continue
		}
		out = append(out, map[string]any{"event": b.Event, "handler": b.Handler, "auth_type": strconv.Itoa(b.AuthType), "offline": 0})
	}
	return ok(out)
}

func methodEvents(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	full := asBool(in.str("FULL"))
	scope := in.str("SCOPE")
	var out []string
	for name, s := range eventScopes {
		switch {
		case scope != "":
			if s != scope {
				continue
			}
		case !full:
			if s != "" && !p.scope[s] {
				continue
			}
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return ok(out)
}
