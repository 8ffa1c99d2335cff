package b24test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/relay24/relay24/bitrix"
)

// apiError is a REST error answer: {"error":CODE,"error_description":TEXT}
// with the HTTP status the portal uses.
type apiError struct {
	Status   int
	Code     string
	Desc     string
	Argument string // ERROR_ARGUMENT answers name the argument
}

func (e *apiError) body() any {
	if e.Argument != "" {
		return struct {
			Error    string `json:"error"`
			Desc     string `json:"error_description"`
			Argument string `json:"argument"`
		}{e.Code, e.Desc, e.Argument}
	}
	return struct {
		Error string `json:"error"`
		Desc  string `json:"error_description"`
	}{e.Code, e.Desc}
}

// The system errors of _includes/system-errors.md.
func errNoAuth() *apiError {
	return &apiError{Status: http.StatusUnauthorized, Code: "NO_AUTH_FOUND", Desc: "Wrong authorization data"}
}

func errExpiredToken() *apiError {
	return &apiError{Status: http.StatusUnauthorized, Code: "expired_token", Desc: "The access token provided has expired"}
}

func errInvalidToken() *apiError {
	return &apiError{Status: http.StatusUnauthorized, Code: "invalid_token", Desc: "The access token provided is invalid"}
}

func errMethodNotFound() *apiError {
	return &apiError{Status: http.StatusNotFound, Code: "ERROR_METHOD_NOT_FOUND", Desc: "Method not found!"}
}

func errQueryLimit() *apiError {
	return &apiError{Status: http.StatusServiceUnavailable, Code: "QUERY_LIMIT_EXCEEDED", Desc: "Too many requests"}
}

func errInsufficientScope() *apiError {
	return &apiError{Status: http.StatusForbidden, Code: "insufficient_scope", Desc: "The request requires higher privileges than provided by the webhook token"}
}

// errAccessDenied is Bitrix\Rest\AccessException: "Access denied!" plus an
// optional reason, HTTP 403.
func errAccessDenied(reason string) *apiError {
	d := "Access denied!"
	if reason != "" {
		d += " " + reason
	}
	return &apiError{Status: http.StatusForbidden, Code: "ACCESS_DENIED", Desc: d}
}

// errArgNull is Rest\Exceptions\ArgumentNullException (placement.bind.error.json).
func errArgNull(name string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "ERROR_ARGUMENT", Desc: "Argument '" + name + "' is null or empty", Argument: name}
}

// errArg is an ERROR_ARGUMENT with a custom text.
func errArg(name, desc string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "ERROR_ARGUMENT", Desc: desc, Argument: name}
}

// errCRM is the legacy CRM REST error: an empty code and a text, HTTP 400
// ({"error":"","error_description":"Not found"}).
func errCRM(desc string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "", Desc: desc}
}

func errCode(status int, code, desc string) *apiError {
	return &apiError{Status: status, Code: code, Desc: desc}
}

// restResult is a successful method result; total/next for list methods.
type restResult struct {
	value any
	total *int
	next  *int
}

func ok(v any) (*restResult, *apiError) { return &restResult{value: v}, nil }

func listResult(v any, total int, next int, counted bool) (*restResult, *apiError) {
	r := &restResult{value: v}
	t := 0
	if counted {
		t = total
	}
	r.total = &t
	if next > 0 {
		r.next = &next
	}
	return r, nil
}

// timeInfo is the "time" member of every answer (time.object.full.json).
type timeInfo struct {
	Start            float64  `json:"start"`
	Finish           float64  `json:"finish"`
	Duration         float64  `json:"duration"`
	Processing       float64  `json:"processing"`
	DateStart        string   `json:"date_start"`
	DateFinish       string   `json:"date_finish"`
	OperatingResetAt *int64   `json:"operating_reset_at,omitempty"`
	Operating        *float64 `json:"operating,omitempty"`
}

// operatingInfo is the per-method time budget a top-level answer reports.
type operatingInfo struct {
	resetAt   time.Time     // when the oldest part of the method's budget is released
	operating time.Duration // the method's execution time summed over the window
}

// newTimeInfo makes the "time" member; op is nil for batch sub-results,
// which carry no operating* members.
func newTimeInfo(start, finish time.Time, op *operatingInfo) timeInfo {
	d := finish.Sub(start).Seconds()
	if d < 0 {
		d = 0
	}
	ti := timeInfo{
		Start:      float64(start.UnixNano()) / 1e9,
		Finish:     float64(finish.UnixNano()) / 1e9,
		Duration:   d,
		Processing: d,
		DateStart:  formatTime(start),
		DateFinish: formatTime(finish),
	}
	if op != nil {
		reset := op.resetAt.Unix()
		used := op.operating.Seconds()
		ti.OperatingResetAt = &reset
		ti.Operating = &used
	}
	return ti
}

type successEnvelope struct {
	Result any      `json:"result"`
	Next   *int     `json:"next,omitempty"`
	Total  *int     `json:"total,omitempty"`
	Time   timeInfo `json:"time"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"INTERNAL_SERVER_ERROR","error_description":"Internal server error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeAPIError(w http.ResponseWriter, e *apiError) { writeJSON(w, e.Status, e.body()) }

// callCtx is the context of one executed method.
type callCtx struct {
	userID  int
	admin   bool
	webhook bool // an incoming webhook: no application context
	inBatch bool
	now     time.Time
	events  []pendingEvent // automatic events to fire after the call
}

type pendingEvent struct {
	event string
	id    int
}

// methodDef is a REST method: its scope ("" = basic, always granted) and
// handler. Handlers run with p.mu held and must not block.
type methodDef struct {
	scope string
	fn    func(p *Portal, c *callCtx, in params) (*restResult, *apiError)
}

// restMethodName extracts the method from /rest/{method}[.json]; webhook
// paths (/rest/{user}/{secret}/{method}) report ok=false.
func restMethodName(path string) (string, bool) {
	m := strings.TrimPrefix(path, "/rest/")
	if m == "" || strings.Contains(m, "/") {
		return "", false
	}
	m = strings.ToLower(m)
	m = strings.TrimSuffix(m, ".json")
	return m, true
}

// request is a decoded REST request.
type request struct {
	in       params
	cmdOrder []string // batch command keys in wire order
}

var errBadJSON = errors.New("request body is not valid JSON")

// parseRequest merges query-string and body parameters ($_REQUEST-like:
// the body wins), decoding PHP bracket syntax and JSON alike.
func parseRequest(r *http.Request) (request, error) {
	qpairs := parseQueryLenient(r.URL.RawQuery)
	qv, err := bitrix.DecodeForm(pairsToValues(qpairs))
	if err != nil {
		return request{}, err
	}
	in := params(qv)
	order := bracketKeyOrder(qpairs, "cmd")
	if r.Method == http.MethodGet || r.Body == nil {
		return request{in: in, cmdOrder: order}, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		return request{}, err
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var bodyParams map[string]any
	switch {
	case ct == "application/json" || (ct == "" && looksJSON(body)):
		if len(bytes.TrimSpace(body)) == 0 {
			break
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&bodyParams); err != nil {
			return request{}, errBadJSON
		}
		if o := jsonObjectKeyOrder(body, "cmd"); o != nil {
			order = o
		}
	case ct == "multipart/form-data":
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err := r.ParseMultipartForm(32 << 20); err != nil {
			return request{}, err
		}
		bodyParams, err = bitrix.DecodeForm(r.MultipartForm.Value)
		if err != nil {
			return request{}, err
		}
	default:
		pairs := parseQueryLenient(string(body))
		bodyParams, err = bitrix.DecodeForm(pairsToValues(pairs))
		if err != nil {
			return request{}, err
		}
		if o := bracketKeyOrder(pairs, "cmd"); o != nil {
			order = o
		}
	}
	for k, v := range bodyParams {
		in[k] = v
	}
	return request{in: in, cmdOrder: order}, nil
}

func looksJSON(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{'
}

// hasCarryingFault tells whether the fault set looks into bodies.
func (p *Portal) hasCarryingFault() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fault != nil && p.fault.f.Carrying != ""
}

// handleREST is /rest/: fault and latency first, then the rate limit,
// authorization and the method.
func (p *Portal) handleREST(w http.ResponseWriter, r *http.Request) {
	method, okName := restMethodName(r.URL.Path)
	carries := func(string) bool { return true }
	if p.hasCarryingFault() {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		r.Body = io.NopCloser(bytes.NewReader(body))
		carries = func(m string) bool { return m == "" || bytes.Contains(bytes.ToLower(body), []byte(strings.ToLower(m))) }
	}

	p.mu.Lock()
	p.httpRequests++
	var fault *Fault
	if fs := p.fault; fs != nil && (fs.f.Method == "" || strings.EqualFold(fs.f.Method, method)) && carries(fs.f.Carrying) {
		var done bool
		if fault, done = fs.take(); done {
			p.fault = nil
		}
	}
	latency := p.latency
	p.mu.Unlock()

	if fault != nil && !fault.Lost {
		if !sleepCtx(r.Context(), fault.Delay) {
			return
		}
		if fault.Status != 0 {
			writeFault(w, fault)
			return
		}
	}
	if !sleepCtx(r.Context(), latency) {
		return
	}

	start := p.o.Now()
	p.mu.Lock()
	allowed := p.bucket.allow(start)
	p.mu.Unlock()
	if !allowed {
		p.record(Call{Method: method, Status: http.StatusServiceUnavailable, Error: "QUERY_LIMIT_EXCEEDED", At: start})
		writeAPIError(w, errQueryLimit())
		return
	}
	var hook *callCtx
	if !okName {
		// /rest/{user}/{secret}/{method}: only webhooks made by AddWebhook.
		var wm string
		if hook, wm = p.webhookCall(r.URL.Path); hook == nil {
			e := errCode(http.StatusForbidden, "INVALID_CREDENTIALS", "Invalid request credentials")
			p.record(Call{Method: method, Status: e.Status, Error: e.Code, At: start})
			writeAPIError(w, e)
			return
		}
		method = wm
	}

	req, err := parseRequest(r)
	if err != nil {
		e := errCode(http.StatusBadRequest, "INVALID_REQUEST", "Invalid request: "+err.Error())
		p.record(Call{Method: method, Status: e.Status, Error: e.Code, At: start})
		writeAPIError(w, e)
		return
	}
	token := req.in.str("auth")
	in := req.in.without("auth")

	c, aerr := hook, (*apiError)(nil)
	if hook == nil {
		c, aerr = p.authenticate(token)
	}
	if aerr != nil {
		p.record(Call{Method: method, Params: in, Status: aerr.Status, Error: aerr.Code, At: start})
		writeAPIError(w, aerr)
		return
	}
	c.now = start

	var (
		res  *restResult
		subs []Call
	)
	if method == "batch" {
		res, aerr, subs = p.runBatch(c, in, req.cmdOrder)
	} else {
		res, aerr = p.dispatch(method, in, c)
	}
	p.record(Call{Method: method, Params: in, Status: statusOf(aerr), Error: codeOf(aerr), UserID: c.userID, At: start})
	p.record(subs...)
	p.fireAuto(c)
	if fault != nil && fault.Lost {
		if sleepCtx(r.Context(), fault.Delay) {
			writeFault(w, fault)
		}
		return
	}
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	// The outer batch is not charged (its commands are, one by one).
	op := &operatingInfo{resetAt: start}
	if method != "batch" {
		p.mu.Lock()
		op = p.operatingLocked(method, p.o.Now())
		p.mu.Unlock()
	}
	writeJSON(w, http.StatusOK, successEnvelope{Result: res.value, Next: res.next, Total: res.total, Time: newTimeInfo(start, p.o.Now(), op)})
}

// writeFault answers with a fault's status and body (a matching error
// envelope when it has no body).
func writeFault(w http.ResponseWriter, f *Fault) {
	status := f.Status
	if status == 0 {
		status = http.StatusGatewayTimeout
	}
	if f.Body == "" {
		writeAPIError(w, faultEnvelope(status))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, f.Body)
}

// faultEnvelope is the error a fault answers with when it has no body; its
// status is always the fault's.
func faultEnvelope(status int) *apiError {
	switch status {
	case http.StatusServiceUnavailable:
		return errQueryLimit()
	case http.StatusUnauthorized:
		return errExpiredToken()
	case http.StatusTooManyRequests:
		return errOperationTimeLimit()
	case http.StatusForbidden:
		return errAccessDenied("")
	default:
		return errCode(status, "INTERNAL_SERVER_ERROR", "Internal server error")
	}
}

func statusOf(e *apiError) int {
	if e == nil {
		return http.StatusOK
	}
	return e.Status
}

func codeOf(e *apiError) string {
	if e == nil {
		return ""
	}
	return e.Code
}

// authenticate checks an access token against this portal.
func (p *Portal) authenticate(token string) (*callCtx, *apiError) {
	if token == "" {
		return nil, errNoAuth()
	}
	st, userID := p.o.checkAccess(p, token)
	switch st {
	case tokenUnknown:
		return nil, errNoAuth()
	case tokenRevoked:
		return nil, errInvalidToken()
	case tokenExpired:
		return nil, errExpiredToken()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	u := p.users[userID]
	if u == nil || !u.Active {
		return nil, errCode(http.StatusForbidden, "user_access_error", "The user does not have access to the application")
	}
	return &callCtx{userID: userID, admin: u.Admin}, nil
}

// dispatch runs one method (top level or batch sub-command) under p.mu.
func (p *Portal) dispatch(method string, in params, c *callCtx) (*restResult, *apiError) {
	def, found := restMethods[method]
	if !found {
		return nil, errMethodNotFound()
	}
	if def.scope != "" && !p.scope[def.scope] {
		return nil, errInsufficientScope()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// The budget is checked before the call and charged after it, so the
	// call that crosses the limit still runs and the next one is refused.
	budget := p.budgetLocked(method, c.now)
	if p.opLimit > 0 && budget.used() > p.opLimit {
		return nil, errOperationTimeLimit()
	}
	began := p.o.Now()
	res, aerr := def.fn(p, c, in)
	budget.add(c.now, p.o.Now().Sub(began)+p.opCost[method])
	return res, aerr
}

func (p *Portal) record(calls ...Call) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, calls...)
}

// restMethods is the immutable table of supported methods.
var restMethods = map[string]methodDef{
	"server.time":    {"", func(p *Portal, c *callCtx, in params) (*restResult, *apiError) { return ok(formatTime(c.now)) }},
	"scope":          {"", methodScope},
	"app.info":       {"", func(p *Portal, c *callCtx, in params) (*restResult, *apiError) { return ok(p.appInfoLocked()) }},
	"profile":        {"", methodProfile},
	"user.current":   {"", methodUserCurrent},
	"user.admin":     {"", func(p *Portal, c *callCtx, in params) (*restResult, *apiError) { return ok(c.admin) }},
	"user.get":       {"user", methodUserGet},
	"department.get": {"department", methodDepartmentGet},

	"placement.bind":   {"placement", methodPlacementBind},
	"placement.unbind": {"placement", methodPlacementUnbind},
	"placement.get":    {"placement", methodPlacementGet},
	"placement.list":   {"placement", methodPlacementList},
	"event.bind":       {"", methodEventBind},
	"event.unbind":     {"", methodEventUnbind},
	"event.get":        {"", methodEventGet},
	"events":           {"", methodEvents},

	"crm.contact.list":   {"crm", methodContactList},
	"crm.contact.get":    {"crm", methodContactGet},
	"crm.contact.add":    {"crm", methodContactAdd},
	"crm.contact.update": {"crm", methodContactUpdate},
	"crm.contact.delete": {"crm", methodContactDelete},
	"crm.lead.list":      {"crm", methodLeadList},
	"crm.lead.get":       {"crm", methodLeadGet},
	"crm.lead.add":       {"crm", methodLeadAdd},
	"crm.lead.update":    {"crm", methodLeadUpdate},
	"crm.lead.delete":    {"crm", methodLeadDelete},
	"crm.deal.list":      {"crm", methodDealList},
	"crm.deal.get":       {"crm", methodDealGet},
	"crm.deal.add":       {"crm", methodDealAdd},
	"crm.deal.update":    {"crm", methodDealUpdate},
	"crm.deal.delete":    {"crm", methodDealDelete},

	"crm.deal.contact.items.get":  {"crm", methodDealContactItemsGet},
	"crm.deal.contact.items.set":  {"crm", methodDealContactItemsSet},
	"crm.category.list":           {"crm", methodCategoryList},
	"crm.status.list":             {"crm", methodStatusList},
	"crm.duplicate.findbycomm":    {"crm", methodDuplicateFindByComm},
	"crm.timeline.comment.add":    {"crm", methodTimelineCommentAdd},
	"crm.timeline.comment.list":   {"crm", methodTimelineCommentList},
	"crm.timeline.logmessage.add": {"crm", methodTimelineLogMessageAdd},
	"crm.activity.todo.add":       {"crm", methodActivityTodoAdd},

	"bizproc.robot.add":    {"bizproc", methodRobotAdd},
	"bizproc.robot.update": {"bizproc", methodRobotUpdate},
	"bizproc.robot.list":   {"bizproc", methodRobotList},
	"bizproc.robot.delete": {"bizproc", methodRobotDelete},
	"bizproc.event.send":   {"bizproc", methodEventSend},

	"crm.automation.trigger.add":     {"crm", methodTriggerAdd},
	"crm.automation.trigger.list":    {"crm", methodTriggerList},
	"crm.automation.trigger.delete":  {"crm", methodTriggerDelete},
	"crm.automation.trigger.execute": {"crm", methodTriggerExecute},

	"im.notify.system.add":   {"im", methodNotifySystem},
	"im.notify.personal.add": {"im", methodNotifyPersonal},
}

// "methods" lists the table itself, so it is registered after the table
// exists (a direct entry would be an initialization cycle).
func init() { restMethods["methods"] = methodDef{"", methodMethods} }

// AddWebhook makes an incoming webhook of a user (the portal's
// "Developer resources"): its URL ends with a slash, the method follows.
// Calls through it run as that user without application context, so the
// methods that need an app (bizproc.robot.*, the app triggers) refuse them.
func (p *Portal) AddWebhook(userID int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.webhooks == nil {
		p.webhooks = map[string]int{}
	}
	secret := randomHex(8)
	p.webhooks[secret] = userID
	return p.srv.URL + "/rest/" + strconv.Itoa(userID) + "/" + secret + "/"
}

// webhookCall authenticates /rest/{user}/{secret}/{method}: nil when it is
// not a live webhook of an active user.
func (p *Portal) webhookCall(path string) (*callCtx, string) {
	parts := strings.Split(strings.TrimPrefix(path, "/rest/"), "/")
	if len(parts) != 3 || parts[2] == "" {
		return nil, ""
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	uid, ok := p.webhooks[parts[1]]
	if !ok || strconv.Itoa(uid) != parts[0] {
		return nil, ""
	}
	u := p.users[uid]
	if u == nil || !u.Active {
		return nil, ""
	}
	return &callCtx{userID: uid, admin: u.Admin, webhook: true}, strings.TrimSuffix(strings.ToLower(parts[2]), ".json")
}
