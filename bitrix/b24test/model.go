package b24test

import (
	"net/http"
	"time"
)

// User is a portal employee (what user.get returns).
type User struct {
	ID       int
	Name     string
	LastName string
	Email    string
	// Active must be set explicitly: the zero value is a dismissed user, who
	// cannot log in and whose tokens are refused.
	Active bool
	Admin  bool
	// Departments are UF_DEPARTMENT; empty means [1] (the company root) for
	// employees.
	Departments []int
	UserType    string // "employee" (default), "extranet", "email", "bot" ...
	Lang        string // UI language; default the portal's
}

// Department is a node of the company structure (department.get).
type Department struct {
	ID     int
	Name   string
	Parent int // 0 only for the root (ID 1); other departments default to 1
	Head   int // UF_HEAD user id, 0 = none
	Sort   int // default 500
}

// Multi is a CRM multifield value (crm_multifield).
type Multi struct {
	ID        int    // assigned by the portal when 0
	TypeID    string // PHONE, EMAIL, IM, WEB (filled from the field it is stored in)
	ValueType string // WORK, MOBILE, HOME, TELEGRAM, OPENLINE ... default WORK
	Value     string
}

// Contact is a CRM contact.
type Contact struct {
	ID           int
	Name         string
	SecondName   string
	LastName     string
	AssignedByID int
	Phones       []Multi
	Emails       []Multi
	IMs          []Multi
	DateCreate   time.Time
	DateModify   time.Time
}

// Lead is a CRM lead.
type Lead struct {
	ID           int
	Title        string
	Name         string
	LastName     string
	StatusID     string // NEW (default), IN_PROCESS, PROCESSED, CONVERTED, JUNK
	AssignedByID int
	ContactID    int
	Phones       []Multi
	Emails       []Multi
	IMs          []Multi
	// Closed is derived from StatusID (CONVERTED and JUNK close a lead) when
	// the lead is stored.
	Closed     bool
	DateCreate time.Time
	DateModify time.Time
}

// Deal is a CRM deal.
type Deal struct {
	ID         int
	Title      string
	StageID    string // NEW, PREPARATION, ..., WON, LOSE; "C<n>:" prefix for pipeline n
	CategoryID int
	// StageSemantic (P in progress, S success, F failure) and Closed are
	// derived from StageID when the deal is stored.
	StageSemantic string
	Closed        bool
	AssignedByID  int
	ContactIDs    []int // first = primary CONTACT_ID
	DateCreate    time.Time
	DateModify    time.Time
}

// TimelineEntry is what crm.timeline.comment.add, crm.timeline.logmessage.add
// and crm.activity.todo.add wrote.
type TimelineEntry struct {
	ID            int
	Kind          string // "comment", "logmessage", "todo"
	EntityType    string // "lead", "deal", "contact", "company"
	EntityTypeID  int    // 1 lead, 2 deal, 3 contact, 4 company
	EntityID      int
	AuthorID      int
	Title         string
	Text          string // COMMENT / text / description
	IconCode      string
	Deadline      time.Time
	ResponsibleID int
	Created       time.Time
}

// Notification is what im.notify.system.add / im.notify.personal.add wrote.
type Notification struct {
	ID         int
	Type       string // "SYSTEM" or "USER"
	ToUserID   int
	FromUserID int // 0 for system notifications
	Message    string
	MessageOut string
	Tag        string
	SubTag     string
	Created    time.Time
}

// PlacementBinding is one placement.bind registration.
type PlacementBinding struct {
	ID          int
	Placement   string
	Handler     string
	Title       string
	Description string
	GroupName   string
	UserID      int
	Options     map[string]any
	LangAll     map[string]map[string]string
}

// EventBinding is one event.bind registration.
type EventBinding struct {
	ID       int
	Event    string // upper case, as the portal stores it
	Handler  string
	AuthType int // user whose token is sent; 0 = the user who caused the event
	Offline  bool
}

// Tokens is an OAuth token pair issued for one user of one portal.
type Tokens struct {
	Access    string
	Refresh   string
	ExpiresIn int
	Expires   time.Time
}

// Reply is the application's answer to a request the portal sent to it; the
// body is read completely.
type Reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// Fault makes the next matching requests fail (or stall) before any
// processing.
type Fault struct {
	// Status is the HTTP status to answer with; 0 with a Delay only delays
	// the request, which is then processed normally.
	Status int
	// Body is written verbatim (it may be garbage on purpose); empty means
	// a matching Bitrix24 error envelope.
	Body  string
	Delay time.Duration
	// Count is how many requests are affected; 0 means 1.
	Count int
	// Skip lets that many matching requests through untouched before the
	// fault applies (e.g. the third batch of an install fails).
	Skip int
	// Method limits a portal fault to one REST method (case-insensitive,
	// matched against the URL's method, so "batch" for batches); "" = any.
	// Ignored by the OAuth server.
	Method string
	// Carrying limits it further to requests whose body names this method
	// (a batch carrying those commands); "" = any.
	Carrying string
	// Lost lets the portal run the request first and then answers with the
	// fault instead of the result: an answer lost on its way back (a proxy's
	// timeout, a dropped connection), so the writes happened but the caller
	// cannot know it. Portal faults only.
	Lost bool
}

// Call is one REST method answered by the portal.
type Call struct {
	Method  string         // lower case, without ".json"
	Params  map[string]any // decoded parameters without auth
	Status  int            // HTTP status of the answer (for batch sub-commands: what it would be alone)
	Error   string         // error code, "" on success
	InBatch bool
	UserID  int // token owner, 0 when authorization failed
	At      time.Time
}

// Delivery is one POST the portal sent to an application handler (events,
// including the automatic ones).
type Delivery struct {
	Event   string
	Handler string
	Status  int
	Err     error
	Form    map[string]any
	At      time.Time
}
