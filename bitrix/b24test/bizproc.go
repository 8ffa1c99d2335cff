package b24test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/relay24/relay24/bitrix"
)

// Automation robots (bizproc.robot.*, bizproc.event.send) and app triggers
// (crm.automation.trigger.*), after bitrix24.md §m. Robots are kept per
// portal for the one emulated app and survive an uninstall ([UNCONFIRMED];
// a reinstall then meets ERROR_ACTIVITY_ALREADY_INSTALLED on add).

// Robot is a registered robot as bizproc.robot.add/update left it.
type Robot struct {
	Code             string
	Handler          string
	AuthUserID       int
	UseSubscription  string // Y, N or "" (empty counts as waiting)
	UsePlacement     string
	PlacementHandler string
	Name             any // string or {lang: string}
	Description      any
	Properties       map[string]any
	ReturnProperties map[string]any
	DocumentType     []any
	Filter           map[string]any
}

// EventSend is one accepted bizproc.event.send.
type EventSend struct {
	EventToken   string
	ReturnValues map[string]any
	LogMessage   string
	UserID       int
	At           time.Time
}

// AppTrigger is one trigger of crm.automation.trigger.add.
type AppTrigger struct {
	Code string
	Name string
}

// TriggerExecution is one accepted crm.automation.trigger.execute.
type TriggerExecution struct {
	Code        string
	OwnerTypeID int
	OwnerID     int
	At          time.Time
}

// robotToken is an event token handed to a robot call: usable once, and
// only when the robot waits for it (USE_SUBSCRIPTION).
type robotToken struct {
	code string
	used bool
	wait bool
}

// automation is a portal's automation state (under p.mu).
type automation struct {
	robots     []*Robot
	tokens     map[string]*robotToken
	sends      []EventSend
	triggers   []AppTrigger
	executions []TriggerExecution
	calls      []RobotCall
	stages     []StageRobot
}

func (p *Portal) auto() *automation {
	if p.automation == nil {
		p.automation = &automation{tokens: map[string]*robotToken{}}
	}
	return p.automation
}

func errActivity(desc string) *apiError {
	return errCode(http.StatusBadRequest, "ERROR_ACTIVITY_VALIDATION_FAILURE", desc)
}

// errBizprocDenied is ACCESS_DENIED as the robot methods answer it (the
// robot.list sample is HTTP 400).
func errBizprocDenied() *apiError {
	return errCode(http.StatusBadRequest, "ACCESS_DENIED", "Access denied!")
}

// robotCaller is who may call the robot methods: an installed app
// (a webhook is "Application context required") acting as an administrator.
func robotCaller(c *callCtx) *apiError {
	if c.webhook {
		return errCode(http.StatusBadRequest, "ACCESS_DENIED", "Application context required")
	}
	if !c.admin {
		return errBizprocDenied()
	}
	return nil
}

// triggerCaller is robotCaller for the app triggers, in their words.
func triggerCaller(c *callCtx) *apiError {
	if c.webhook {
		return errAccessDenied("Application context required")
	}
	if !c.admin {
		return errAccessDenied("Admin permissions required")
	}
	return nil
}

var (
	robotCodeRe   = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)
	propertyKeyRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	triggerCodeRe = regexp.MustCompile(`^[a-z0-9._-]+$`)
	propertyTypes = map[string]bool{"bool": true, "date": true, "datetime": true, "double": true, "file": true, "int": true,
		"select": true, "string": true, "text": true, "user": true}
)

// documentTypes are the DOCUMENT_TYPE values the docs list for robots.
var documentTypes = map[string]string{
	"CCrmDocumentLead": "LEAD", "CCrmDocumentDeal": "DEAL",
	`Bitrix\Crm\Integration\BizProc\Document\Quote`: "QUOTE", `Bitrix\Crm\Integration\BizProc\Document\SmartInvoice`: "SMART_INVOICE",
}

var dynamicDocType = regexp.MustCompile(`^DYNAMIC_\d+$`)

func nonEmptyName(v any) bool {
	switch t := v.(type) {
	case string:
		return strings.TrimSpace(t) != ""
	case map[string]any:
		for _, e := range t {
			if s, _ := asString(e); strings.TrimSpace(s) != "" {
				return true
			}
		}
	}
	return false
}

// checkProperties validates PROPERTIES / RETURN_PROPERTIES ("" or absent is
// none).
func checkProperties(v any) (map[string]any, *apiError) {
	if v == nil {
		return nil, nil
	}
	if s, ok := v.(string); ok && s == "" {
		return nil, nil
	}
	m, ok := asMap(v)
	if !ok {
		return nil, errActivity("Wrong properties array!")
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !propertyKeyRe.MatchString(k) {
			return nil, errActivity("Wrong property key " + k + "!")
		}
		prop, ok := asMap(m[k])
		if !ok {
			return nil, errActivity("Wrong properties array!")
		}
		if !nonEmptyName(prop["Name"]) {
			return nil, errActivity("Empty property NAME " + k + "!")
		}
		t, _ := asString(prop["Type"])
		if t != "" && !propertyTypes[t] {
			return nil, errActivity("Wrong properties array!")
		}
		for _, flag := range []string{"Required", "Multiple"} {
			if f, _ := asString(prop[flag]); f != "" && f != "Y" && f != "N" {
				return nil, errActivity("Wrong properties array!")
			}
		}
		if t == "select" {
			// Options is {value: title}; a Default must be one of them.
			opts, isMap := asMap(prop["Options"])
			if o, given := prop["Options"]; given && !isMap {
				if s, _ := asString(o); s != "" {
					return nil, errActivity("Wrong properties array!")
				}
			}
			for k, title := range opts {
				if ts, isStr := asString(title); k == "" || !isStr || ts == "" {
					return nil, errActivity("Wrong properties array!")
				}
			}
			if d, _ := asString(prop["Default"]); d != "" && opts[d] == nil {
				return nil, errActivity("Wrong properties array!")
			}
		}
	}
	return m, nil
}

// applyRobotFields checks and applies the fields of add (all) or update
// (those given) to r.
func applyRobotFields(r *Robot, f params, add bool) *apiError {
	if v, ok := f.get("HANDLER"); ok || add {
		h, _ := asString(v)
		if e := checkHandlerURL(h); e != nil {
			return e
		}
		r.Handler = h
	}
	if v, ok := f.get("NAME"); ok || add {
		if !nonEmptyName(v) {
			return errActivity("Empty activity NAME!")
		}
		r.Name = v
	}
	if v, ok := f.get("DESCRIPTION"); ok {
		r.Description = v
	}
	if v, ok := f.get("AUTH_USER_ID"); ok {
		id, ok := asInt(v)
		if !ok || id < 0 {
			return errActivity("Wrong activity AUTH_USER_ID!")
		}
		r.AuthUserID = id
	}
	for _, k := range []string{"USE_SUBSCRIPTION", "USE_PLACEMENT"} {
		if v, ok := f.get(k); ok {
			s, _ := asString(v)
			if s != "" && s != "Y" && s != "N" {
				return errActivity("Wrong activity " + k + "!")
			}
			if k == "USE_SUBSCRIPTION" {
				r.UseSubscription = s
			} else {
				r.UsePlacement = s
			}
		}
	}
	if v, ok := f.get("PLACEMENT_HANDLER"); ok {
		r.PlacementHandler, _ = asString(v)
	}
	if r.UsePlacement == "Y" {
		if e := checkHandlerURL(r.PlacementHandler); e != nil {
			return e
		}
	}
	for _, k := range []string{"PROPERTIES", "RETURN_PROPERTIES"} {
		if v, ok := f.get(k); ok {
			m, e := checkProperties(v)
			if e != nil {
				return e
			}
			if k == "PROPERTIES" {
				r.Properties = m
			} else {
				r.ReturnProperties = m
			}
		}
	}
	if v, ok := f.get("DOCUMENT_TYPE"); ok {
		dt := asList(v)
		if len(dt) != 3 {
			return errActivity("Wrong activity DOCUMENT_TYPE!")
		}
		mod, _ := asString(dt[0])
		class, _ := asString(dt[1])
		typ, _ := asString(dt[2])
		want, known := documentTypes[class]
		switch {
		case mod != "crm":
			return errActivity("Wrong activity DOCUMENT_TYPE!")
		case class == `Bitrix\Crm\Integration\BizProc\Document\Dynamic` && dynamicDocType.MatchString(typ):
		case !known || want != typ:
			return errActivity("Wrong activity DOCUMENT_TYPE!")
		}
		r.DocumentType = dt
	}
	if v, ok := f.get("FILTER"); ok {
		m, ok := asMap(v)
		if !ok {
			return errActivity("Wrong activity FILTER!")
		}
		for k, rules := range m {
			if k != "INCLUDE" && k != "EXCLUDE" {
				return errActivity("Wrong activity FILTER!")
			}
			if _, isList := rules.([]any); !isList {
				return errActivity("Wrong activity FILTER!")
			}
		}
		r.Filter = m
	}
	return nil
}

func (a *automation) robot(code string) *Robot {
	for _, r := range a.robots {
		if r.Code == code {
			return r
		}
	}
	return nil
}

func robotCode(in params) (string, *apiError) {
	code := strings.TrimSpace(in.str("CODE"))
	if code == "" {
		return "", errActivity("Empty activity code!")
	}
	if !robotCodeRe.MatchString(code) {
		return "", errActivity("Wrong activity code!")
	}
	return code, nil
}

func methodRobotAdd(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	if e := robotCaller(c); e != nil {
		return nil, e
	}
	if len(in) == 0 {
		return nil, errActivity("Empty data!")
	}
	code, e := robotCode(in)
	if e != nil {
		return nil, e
	}
	a := p.auto()
	if a.robot(code) != nil {
		return nil, errCode(http.StatusBadRequest, "ERROR_ACTIVITY_ALREADY_INSTALLED", "Activity or Automation rule already installed!")
	}
	r := &Robot{Code: code}
	if e := applyRobotFields(r, in, true); e != nil {
		return nil, e
	}
	a.robots = append(a.robots, r)
	return ok(true)
}

func methodRobotUpdate(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	if e := robotCaller(c); e != nil {
		return nil, e
	}
	code, e := robotCode(in)
	if e != nil {
		return nil, e
	}
	r := p.auto().robot(code)
	if r == nil {
		return nil, errCode(http.StatusBadRequest, "ERROR_ACTIVITY_NOT_FOUND", "Activity or Automation Rule not found!")
	}
	fields, _ := asMap(in["FIELDS"])
	known := 0
	for _, k := range []string{"HANDLER", "AUTH_USER_ID", "USE_SUBSCRIPTION", "NAME", "DESCRIPTION", "PROPERTIES",
		"RETURN_PROPERTIES", "DOCUMENT_TYPE", "FILTER", "USE_PLACEMENT", "PLACEMENT_HANDLER"} {
		if _, ok := fields[k]; ok {
			known++
		}
	}
	if known == 0 {
		return nil, errActivity("No fields to update")
	}
	next := *r
	if e := applyRobotFields(&next, params(fields), false); e != nil {
		return nil, e
	}
	*r = next
	return ok(true)
}

func methodRobotList(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	if e := robotCaller(c); e != nil {
		return nil, e
	}
	out := []string{}
	for _, r := range p.auto().robots {
		out = append(out, r.Code)
	}
	return ok(out)
}

func methodRobotDelete(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	if e := robotCaller(c); e != nil {
		return nil, e
	}
	code, e := robotCode(in)
	if e != nil {
		return nil, e
	}
	a := p.auto()
	for i, r := range a.robots {
		if r.Code == code {
			a.robots = append(a.robots[:i], a.robots[i+1:]...)
			return ok(true)
		}
	}
	return nil, errCode(http.StatusBadRequest, "ERROR_ACTIVITY_NOT_FOUND", "Activity or Robot not found!")
}

// paramFold reads a parameter in any case (the docs' samples use both).
func paramFold(in params, name string) (any, bool) {
	for k, v := range in {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

func methodEventSend(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	v, _ := paramFold(in, "EVENT_TOKEN")
	token, _ := asString(v)
	a := p.auto()
	t := a.tokens[token]
	if token == "" || t == nil || t.used || !t.wait {
		return nil, errAccessDenied("")
	}
	var declared map[string]any
	if r := a.robot(t.code); r != nil {
		declared = r.ReturnProperties
	}
	send := EventSend{EventToken: token, ReturnValues: map[string]any{}, UserID: c.userID, At: c.now}
	if rv, ok := paramFold(in, "RETURN_VALUES"); ok {
		m, isMap := asMap(rv)
		if !isMap {
			if s, _ := asString(rv); s != "" {
				return nil, errArg("RETURN_VALUES", "Wrong RETURN_VALUES")
			}
		}
		for k, e := range m {
			// Only the robot's RETURN_PROPERTIES (matched in any case, as the
			// portal upper-cases both); the portal's handling of others is
			// [UNCONFIRMED], so the emulator refuses them and keeps the token.
			if _, ok := paramFold(params(declared), k); !ok {
				return nil, errArg("RETURN_VALUES", "Unknown return value "+k+": not in the robot's RETURN_PROPERTIES")
			}
			send.ReturnValues[k] = e
		}
	}
	if lm, ok := paramFold(in, "LOG_MESSAGE"); ok {
		send.LogMessage, _ = asString(lm)
	}
	t.used = true
	a.sends = append(a.sends, send)
	return ok(true)
}

// triggerError is the trigger methods' error: an empty code and a text.
func triggerError(desc string) *apiError { return errCRM(desc) }

func methodTriggerAdd(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	if e := triggerCaller(c); e != nil {
		return nil, e
	}
	code := strings.TrimSpace(in.str("CODE"))
	name := strings.TrimSpace(in.str("NAME"))
	switch {
	case code == "":
		return nil, triggerError("Empty trigger code!")
	case !triggerCodeRe.MatchString(code):
		return nil, triggerError("Wrong trigger code!")
	case name == "":
		return nil, triggerError("Empty trigger name!")
	}
	a := p.auto()
	for i := range a.triggers {
		if a.triggers[i].Code == code {
			a.triggers[i].Name = name // re-adding renames
			return ok(true)
		}
	}
	a.triggers = append(a.triggers, AppTrigger{Code: code, Name: name})
	return ok(true)
}

func methodTriggerList(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	if e := triggerCaller(c); e != nil {
		return nil, e
	}
	out := []map[string]string{}
	for _, t := range p.auto().triggers {
		out = append(out, map[string]string{"NAME": t.Name, "CODE": t.Code})
	}
	return ok(out)
}

func methodTriggerDelete(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	if e := triggerCaller(c); e != nil {
		return nil, e
	}
	code := strings.TrimSpace(in.str("CODE"))
	if code == "" {
		return nil, triggerError("Empty trigger code!")
	}
	a := p.auto()
	for i, t := range a.triggers {
		if t.Code == code {
			a.triggers = append(a.triggers[:i], a.triggers[i+1:]...)
			return ok(true)
		}
	}
	return nil, triggerError("Trigger not found")
}

func methodTriggerExecute(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	if e := triggerCaller(c); e != nil {
		return nil, e
	}
	code := strings.TrimSpace(in.str("CODE"))
	if code == "" {
		return nil, triggerError("Empty trigger code!")
	}
	a := p.auto()
	known := false
	for _, t := range a.triggers {
		known = known || t.Code == code
	}
	if !known {
		return nil, triggerError("Trigger with code " + code + " is not registered.")
	}
	ownerType, okType := in.int("OWNER_TYPE_ID")
	// Triggers exist for leads, deals, estimates, invoices and SPAs; the
	// emulator keeps leads and deals.
	if !okType || (ownerType != 1 && ownerType != 2) {
		return nil, triggerError("Incorrect parameter OWNER_TYPE_ID.")
	}
	ownerID, okID := in.int("OWNER_ID")
	exists := false
	if okID && ownerID > 0 {
		if ownerType == 1 {
			exists = p.leads.get(ownerID) != nil
		} else {
			exists = p.deals.get(ownerID) != nil
		}
	}
	if !exists {
		return nil, triggerError("Incorrect parameter OWNER_ID.")
	}
	a.executions = append(a.executions, TriggerExecution{Code: code, OwnerTypeID: ownerType, OwnerID: ownerID, At: c.now})
	return ok(true)
}

// Robots are the registered robots (copies).
func (p *Portal) Robots() []Robot {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Robot
	for _, r := range p.auto().robots {
		out = append(out, *r)
	}
	return out
}

// EventSends are the accepted bizproc.event.send calls.
func (p *Portal) EventSends() []EventSend {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]EventSend(nil), p.auto().sends...)
}

// AppTriggers are the registered app triggers.
func (p *Portal) AppTriggers() []AppTrigger {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]AppTrigger(nil), p.auto().triggers...)
}

// TriggerExecutions are the accepted crm.automation.trigger.execute calls.
func (p *Portal) TriggerExecutions() []TriggerExecution {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]TriggerExecution(nil), p.auto().executions...)
}

// RobotCall is one call of a robot's handler (RunRobot).
type RobotCall struct {
	Code       string
	Document   [3]string // module, class, id: crm, CCrmDocumentDeal, DEAL_123
	Properties map[string]string
	// EventToken is the call's token; RunRobot makes a fresh one when it is
	// empty, and reusing one repeats a call (the queue server resending it).
	EventToken string
	// ApplicationToken, when set, is posted instead of the portal's (a
	// forged call); MemberID likewise.
	ApplicationToken string
	MemberID         string
	Reply            Reply
	Err              error
}

// RobotCalls are the robot calls made so far.
func (p *Portal) RobotCalls() []RobotCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]RobotCall(nil), p.auto().calls...)
}

// ErrNoRobot is returned by RunRobot for a robot that is not registered.
var ErrNoRobot = errors.New("b24test: no robot is registered with that code")

// newEventToken is <workflow_id>|A<4 numbers>|<32 chars>.<64 hex> (§m.4).
func newEventToken() (workflowID, token string) {
	workflowID = randomHex(7) + "." + strconv.Itoa(10000000+int(time.Now().UnixNano()%89999999))
	n := func() string { return strconv.Itoa(10000 + int(time.Now().UnixNano()%89999)) }
	return workflowID, workflowID + "|A" + n() + "_" + n() + "_" + n() + "_" + n() + "|" + randomHex(16) + "." + randomHex(32)
}

// NewRobotToken is a fresh event token of a registered robot, as a workflow
// reaching it gets: RunRobot calls with it repeat one call (tests of the
// queue server delivering a call twice at once).
func (p *Portal) NewRobotToken(code string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.auto()
	r := a.robot(code)
	if r == nil {
		return "", ErrNoRobot
	}
	_, token := newEventToken()
	a.tokens[token] = &robotToken{code: r.Code, wait: r.UseSubscription != "N"}
	return token, nil
}

// RunRobot makes the portal's queue server call a robot's handler as a
// workflow reaching it does (the robot.handler.POST form: workflow_id,
// code, document_id[], document_type[], event_token, properties[…],
// use_subscription, timeout_duration, ts, auth[…] with the AUTH_USER_ID's
// tokens and the application token). The call is never retried.
func (p *Portal) RunRobot(ctx context.Context, call RobotCall) (RobotCall, error) {
	if !p.Installed() {
		return call, ErrNotInstalled
	}
	p.mu.Lock()
	a := p.auto()
	r := a.robot(call.Code)
	if r == nil {
		p.mu.Unlock()
		return call, ErrNoRobot
	}
	robot := *r
	workflowID := ""
	if call.EventToken == "" {
		workflowID, call.EventToken = newEventToken()
		a.tokens[call.EventToken] = &robotToken{code: robot.Code, wait: robot.UseSubscription != "N"}
	} else {
		workflowID, _, _ = strings.Cut(call.EventToken, "|")
	}
	appToken, memberID := p.appToken, p.memberID
	p.mu.Unlock()
	if call.ApplicationToken != "" {
		appToken = call.ApplicationToken
	}
	if call.MemberID != "" {
		memberID = call.MemberID
	}
	userID := robot.AuthUserID
	if userID == 0 {
		userID = 1
	}
	tok := p.IssueTokens(userID)
	docType := call.Document[2]
	if i := strings.LastIndexByte(docType, '_'); i > 0 {
		docType = docType[:i]
	}
	props := map[string]any{}
	for k := range robot.Properties {
		props[k] = "" // every property is posted, empty when not set
	}
	for k, v := range call.Properties {
		props[k] = v
	}
	form := map[string]any{
		"workflow_id":      workflowID,
		"code":             robot.Code,
		"document_id":      []any{call.Document[0], call.Document[1], call.Document[2]},
		"document_type":    []any{call.Document[0], call.Document[1], docType},
		"event_token":      call.EventToken,
		"properties":       props,
		"use_subscription": robot.UseSubscription,
		"timeout_duration": "0",
		"ts":               strconv.FormatInt(p.o.Now().Unix(), 10),
		"auth": map[string]any{
			"access_token": tok.Access, "expires": strconv.FormatInt(tok.Expires.Unix(), 10),
			"expires_in": strconv.Itoa(tok.ExpiresIn), "scope": p.o.app.Scope, "domain": p.Domain(),
			"server_endpoint": p.o.serverEndpoint(), "status": "L", "client_endpoint": p.ClientEndpoint(),
			"member_id": memberID, "user_id": strconv.Itoa(userID), "refresh_token": tok.Refresh,
			"application_token": appToken,
		},
	}
	call.Reply, call.Err = p.post(ctx, robot.Handler, bitrix.EncodeQuery(form))
	if call.Err != nil {
		call.Err = fmt.Errorf("robot %s → %s: %w", robot.Code, robot.Handler, call.Err)
	}
	p.mu.Lock()
	a.calls = append(a.calls, call)
	p.mu.Unlock()
	return call, call.Err
}

// StageRobot is an automation rule: a robot with its settings placed on a
// deal stage, run when a deal moves to that stage (MoveDeal).
type StageRobot struct {
	StageID    string
	Code       string
	Properties map[string]string
}

// ErrRuleInvalid is SetStageRobot's refusal: the rule's settings form does
// not save (a required property left empty, a select value not offered).
var ErrRuleInvalid = errors.New("b24test: the automation rule's settings do not save")

// SetStageRobot places a robot on a deal stage (the automation-rules board),
// checking its settings as the robot's form does.
func (p *Portal) SetStageRobot(r StageRobot) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.auto()
	robot := a.robot(r.Code)
	if robot == nil {
		return ErrNoRobot
	}
	for k, v := range robot.Properties {
		prop, _ := asMap(v)
		if req, _ := asString(prop["Required"]); req == "Y" && strings.TrimSpace(r.Properties[k]) == "" {
			return fmt.Errorf("%w: %s is required", ErrRuleInvalid, k)
		}
		if t, _ := asString(prop["Type"]); t == "select" && r.Properties[k] != "" {
			if opts, _ := asMap(prop["Options"]); opts[r.Properties[k]] == nil {
				return fmt.Errorf("%w: %s is not one of %s's options", ErrRuleInvalid, r.Properties[k], k)
			}
		}
	}
	for k := range r.Properties {
		if _, ok := robot.Properties[k]; !ok {
			return fmt.Errorf("%w: the robot has no property %s", ErrRuleInvalid, k)
		}
	}
	a.stages = append(a.stages, r)
	return nil
}

// MoveDeal moves a deal to a stage, as a user dragging it on the board does,
// and runs the robots placed on that stage (each a RunRobot on the deal).
func (p *Portal) MoveDeal(ctx context.Context, dealID int, stageID string) ([]RobotCall, error) {
	d, ok := p.Deal(dealID)
	if !ok {
		return nil, fmt.Errorf("b24test: no deal %d", dealID)
	}
	moved := d.StageID != stageID
	d.StageID = stageID
	p.UpdateDeal(d)
	if !moved {
		return nil, nil
	}
	var errs []error
	if p.Installed() {
		// The portal tells the app's event handlers of the change too.
		if _, err := p.deliver(ctx, "ONCRMDEALUPDATE", map[string]any{"FIELDS": map[string]any{"ID": strconv.Itoa(dealID)}}, 1, false); err != nil {
			errs = append(errs, err)
		}
	}
	p.mu.Lock()
	var rules []StageRobot
	for _, r := range p.auto().stages {
		if r.StageID == stageID {
			rules = append(rules, r)
		}
	}
	p.mu.Unlock()
	var out []RobotCall
	for _, r := range rules {
		c, err := p.RunRobot(ctx, RobotCall{Code: r.Code, Document: [3]string{"crm", "CCrmDocumentDeal", "DEAL_" + strconv.Itoa(dealID)},
			Properties: r.Properties})
		out = append(out, c)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// RemoveRobot deletes a robot as an administrator removing it on the portal
// does (tests of the repair).
func (p *Portal) RemoveRobot(code string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.auto()
	for i, r := range a.robots {
		if r.Code == code {
			a.robots = append(a.robots[:i], a.robots[i+1:]...)
			return
		}
	}
}
