package b24test

import (
	"strconv"
	"strings"
	"time"
)

// contactRec is a stored contact: the public fields plus what only REST
// can set.
type contactRec struct {
	Contact
	web       []Multi
	createdBy int
	modifyBy  int
	extra     map[string]any
}

type leadRec struct {
	Lead
	web       []Multi
	createdBy int
	modifyBy  int
	movedBy   int
	movedTime time.Time
	extra     map[string]any
}

type dealRec struct {
	Deal
	createdBy int
	modifyBy  int
	movedBy   int
	movedTime time.Time
	extra     map[string]any
}

// extraSpec is a field the emulator stores only as written through REST,
// with the value the portal shows before anyone wrote it.
type extraSpec struct {
	name string
	kind fieldKind
	def  any
}

func extraFields[T any](extra func(*T) map[string]any, specs []extraSpec) []fieldDef[T] {
	out := make([]fieldDef[T], len(specs))
	for i, s := range specs {
		s := s
		out[i] = fieldDef[T]{name: s.name, kind: s.kind, get: func(r *T) any { return extraGet(extra(r), s.name, s.def) }}
	}
	return out
}

// ordered arranges field definitions in the order of names (the order the
// portal's samples list them); definitions missing from names go last.
func ordered[T any](names []string, defs ...[]fieldDef[T]) []fieldDef[T] {
	byName := map[string]fieldDef[T]{}
	var all []fieldDef[T]
	for _, d := range defs {
		all = append(all, d...)
		for _, f := range d {
			byName[f.name] = f
		}
	}
	var out []fieldDef[T]
	seen := map[string]bool{}
	for _, n := range names {
		if f, ok := byName[n]; ok {
			out = append(out, f)
			seen[n] = true
		}
	}
	for _, f := range all {
		if !seen[f.name] {
			out = append(out, f)
			seen[f.name] = true
		}
	}
	return out
}

func specNames(specs []extraSpec) map[string]bool {
	m := map[string]bool{}
	for _, s := range specs {
		m[s.name] = true
	}
	return m
}

var addressSpecs = []extraSpec{
	{"ADDRESS", kString, nil}, {"ADDRESS_2", kString, nil}, {"ADDRESS_CITY", kString, nil},
	{"ADDRESS_POSTAL_CODE", kString, nil}, {"ADDRESS_REGION", kString, nil},
	{"ADDRESS_PROVINCE", kString, nil}, {"ADDRESS_COUNTRY", kString, nil},
	{"ADDRESS_LOC_ADDR_ID", kInt, nil},
}

var utmSpecs = []extraSpec{
	{"UTM_SOURCE", kString, nil}, {"UTM_MEDIUM", kString, nil}, {"UTM_CAMPAIGN", kString, nil},
	{"UTM_CONTENT", kString, nil}, {"UTM_TERM", kString, nil},
}

// Contacts (crm.contact.get.response.json).

var contactOrder = []string{"ID", "POST", "COMMENTS", "HONORIFIC", "NAME", "SECOND_NAME", "LAST_NAME", "PHOTO", "LEAD_ID", "TYPE_ID", "SOURCE_ID", "SOURCE_DESCRIPTION", "COMPANY_ID", "BIRTHDATE", "EXPORT", "HAS_PHONE", "HAS_EMAIL", "HAS_IMOL", "DATE_CREATE", "DATE_MODIFY", "ASSIGNED_BY_ID", "CREATED_BY_ID", "MODIFY_BY_ID", "OPENED", "ORIGINATOR_ID", "ORIGIN_ID", "ORIGIN_VERSION", "FACE_ID", "LAST_ACTIVITY_TIME", "ADDRESS", "ADDRESS_2", "ADDRESS_CITY", "ADDRESS_POSTAL_CODE", "ADDRESS_REGION", "ADDRESS_PROVINCE", "ADDRESS_COUNTRY", "ADDRESS_LOC_ADDR_ID", "UTM_SOURCE", "UTM_MEDIUM", "UTM_CAMPAIGN", "UTM_CONTENT", "UTM_TERM", "LAST_ACTIVITY_BY"}

var contactExtraSpecs = append(append([]extraSpec{
	{"POST", kString, nil}, {"COMMENTS", kString, nil}, {"HONORIFIC", kString, nil},
	{"PHOTO", kString, nil}, {"LEAD_ID", kInt, nil}, {"TYPE_ID", kString, "CLIENT"},
	{"SOURCE_ID", kString, "SELF"}, {"SOURCE_DESCRIPTION", kString, nil}, {"COMPANY_ID", kInt, nil},
	{"BIRTHDATE", kDate, ""}, {"EXPORT", kString, "Y"}, {"OPENED", kString, "Y"},
	{"ORIGINATOR_ID", kString, nil}, {"ORIGIN_ID", kString, nil}, {"ORIGIN_VERSION", kString, nil},
	{"FACE_ID", kInt, nil},
}, addressSpecs...), utmSpecs...)

var contactWritable = specNames(contactExtraSpecs)

var contactE = newEntity(ordered(contactOrder,
	[]fieldDef[contactRec]{
		{name: "ID", kind: kInt, get: func(r *contactRec) any { return strconv.Itoa(r.ID) }},
		{name: "NAME", get: func(r *contactRec) any { return r.Name }},
		{name: "SECOND_NAME", get: func(r *contactRec) any { return r.SecondName }},
		{name: "LAST_NAME", get: func(r *contactRec) any { return r.LastName }},
		{name: "HAS_PHONE", get: func(r *contactRec) any { return yn(len(r.Phones) > 0) }},
		{name: "HAS_EMAIL", get: func(r *contactRec) any { return yn(len(r.Emails) > 0) }},
		{name: "HAS_IMOL", get: func(r *contactRec) any { return yn(hasOpenLine(r.IMs)) }},
		{name: "DATE_CREATE", kind: kDate, get: func(r *contactRec) any { return formatTime(r.DateCreate) }},
		{name: "DATE_MODIFY", kind: kDate, get: func(r *contactRec) any { return formatTime(r.DateModify) }},
		{name: "ASSIGNED_BY_ID", kind: kInt, get: func(r *contactRec) any { return strOrNil(r.AssignedByID) }},
		{name: "CREATED_BY_ID", kind: kInt, get: func(r *contactRec) any { return strOrNil(r.createdBy) }},
		{name: "MODIFY_BY_ID", kind: kInt, get: func(r *contactRec) any { return strOrNil(r.modifyBy) }},
		{name: "LAST_ACTIVITY_TIME", kind: kDate, get: func(r *contactRec) any { return formatTime(r.DateModify) }},
		{name: "LAST_ACTIVITY_BY", kind: kInt, get: func(r *contactRec) any { return strOrNil(r.modifyBy) }},
	},
	extraFields(func(r *contactRec) map[string]any { return r.extra }, contactExtraSpecs),
),
	func(r *contactRec) int { return r.ID },
	func(r *contactRec) map[string]any { return r.extra },
	func(r *contactRec) map[string][]Multi {
		return map[string][]Multi{"PHONE": r.Phones, "EMAIL": r.Emails, "IM": r.IMs, "WEB": r.web}
	},
)

func hasOpenLine(ims []Multi) bool {
	for _, m := range ims {
		if m.ValueType == "OPENLINE" || m.ValueType == "IMOL" {
			return true
		}
	}
	return false
}

// applyContact writes REST fields into a contact; read-only and unknown
// fields are ignored, as the portal does.
func (p *Portal) applyContact(r *contactRec, f params) {
	for k, v := range f {
		s, _ := asString(v)
		switch k {
		case "NAME":
			r.Name = s
		case "SECOND_NAME":
			r.SecondName = s
		case "LAST_NAME":
			r.LastName = s
		case "ASSIGNED_BY_ID":
			r.AssignedByID, _ = asInt(v)
		case "PHONE":
			r.Phones = p.applyMultiUpdate(r.Phones, v, "PHONE")
		case "EMAIL":
			r.Emails = p.applyMultiUpdate(r.Emails, v, "EMAIL")
		case "IM":
			r.IMs = p.applyMultiUpdate(r.IMs, v, "IM")
		case "WEB":
			r.web = p.applyMultiUpdate(r.web, v, "WEB")
		default:
			if contactWritable[k] || strings.HasPrefix(k, "UF_") {
				storeExtra(&r.extra, k, v)
			}
		}
	}
}

// Leads (crm.lead.get.response.json).

var leadOrder = []string{"ID", "TITLE", "HONORIFIC", "NAME", "SECOND_NAME", "LAST_NAME", "COMPANY_TITLE", "COMPANY_ID", "CONTACT_ID", "IS_RETURN_CUSTOMER", "BIRTHDATE", "SOURCE_ID", "SOURCE_DESCRIPTION", "STATUS_ID", "STATUS_DESCRIPTION", "POST", "COMMENTS", "CURRENCY_ID", "OPPORTUNITY", "IS_MANUAL_OPPORTUNITY", "HAS_PHONE", "HAS_EMAIL", "HAS_IMOL", "ASSIGNED_BY_ID", "CREATED_BY_ID", "MODIFY_BY_ID", "DATE_CREATE", "DATE_MODIFY", "DATE_CLOSED", "STATUS_SEMANTIC_ID", "OPENED", "ORIGINATOR_ID", "ORIGIN_ID", "MOVED_BY_ID", "MOVED_TIME", "ADDRESS", "ADDRESS_2", "ADDRESS_CITY", "ADDRESS_POSTAL_CODE", "ADDRESS_REGION", "ADDRESS_PROVINCE", "ADDRESS_COUNTRY", "ADDRESS_COUNTRY_CODE", "ADDRESS_LOC_ADDR_ID", "UTM_SOURCE", "UTM_MEDIUM", "UTM_CAMPAIGN", "UTM_CONTENT", "UTM_TERM", "LAST_ACTIVITY_BY", "LAST_ACTIVITY_TIME"}

var leadExtraSpecs = append(append([]extraSpec{
	{"HONORIFIC", kString, nil}, {"SECOND_NAME", kString, nil}, {"COMPANY_TITLE", kString, nil},
	{"COMPANY_ID", kInt, nil}, {"IS_RETURN_CUSTOMER", kString, "N"}, {"BIRTHDATE", kDate, ""},
	{"SOURCE_ID", kString, nil}, {"SOURCE_DESCRIPTION", kString, nil}, {"STATUS_DESCRIPTION", kString, nil},
	{"POST", kString, nil}, {"COMMENTS", kString, nil}, {"CURRENCY_ID", kString, "RUB"},
	{"OPPORTUNITY", kFloat, "0.00"}, {"IS_MANUAL_OPPORTUNITY", kString, "N"}, {"OPENED", kString, "Y"},
	{"ORIGINATOR_ID", kString, nil}, {"ORIGIN_ID", kString, nil}, {"ADDRESS_COUNTRY_CODE", kString, nil},
}, addressSpecs...), utmSpecs...)

var leadWritable = specNames(leadExtraSpecs)

// leadStatuses are the default lead statuses (ENTITY_ID STATUS) with their
// semantics.
var leadStatuses = []statusDef{
	{"NEW", "Не обработан", 10, ""}, {"IN_PROCESS", "В работе", 20, ""},
	{"PROCESSED", "Обработан", 30, ""}, {"CONVERTED", "Качественный лид", 40, "S"},
	{"JUNK", "Некачественный лид", 50, "F"},
}

func leadSemantic(status string) string {
	for _, s := range leadStatuses {
		if s.id == status {
			if s.semantic == "" {
				return "P"
			}
			return s.semantic
		}
	}
	return "P"
}

var leadE = newEntity(ordered(leadOrder,
	[]fieldDef[leadRec]{
		{name: "ID", kind: kInt, get: func(r *leadRec) any { return strconv.Itoa(r.ID) }},
		{name: "TITLE", get: func(r *leadRec) any { return r.Title }},
		{name: "NAME", get: func(r *leadRec) any { return r.Name }},
		{name: "LAST_NAME", get: func(r *leadRec) any { return r.LastName }},
		{name: "STATUS_ID", get: func(r *leadRec) any { return r.StatusID }},
		{name: "CONTACT_ID", kind: kInt, get: func(r *leadRec) any { return strOrNil(r.ContactID) }},
		{name: "HAS_PHONE", get: func(r *leadRec) any { return yn(len(r.Phones) > 0) }},
		{name: "HAS_EMAIL", get: func(r *leadRec) any { return yn(len(r.Emails) > 0) }},
		{name: "HAS_IMOL", get: func(r *leadRec) any { return yn(hasOpenLine(r.IMs)) }},
		{name: "ASSIGNED_BY_ID", kind: kInt, get: func(r *leadRec) any { return strOrNil(r.AssignedByID) }},
		{name: "CREATED_BY_ID", kind: kInt, get: func(r *leadRec) any { return strOrNil(r.createdBy) }},
		{name: "MODIFY_BY_ID", kind: kInt, get: func(r *leadRec) any { return strOrNil(r.modifyBy) }},
		{name: "DATE_CREATE", kind: kDate, get: func(r *leadRec) any { return formatTime(r.DateCreate) }},
		{name: "DATE_MODIFY", kind: kDate, get: func(r *leadRec) any { return formatTime(r.DateModify) }},
		{name: "DATE_CLOSED", kind: kDate, get: func(r *leadRec) any {
			if r.Closed {
				return formatTime(r.DateModify)
			}
			return ""
		}},
		{name: "STATUS_SEMANTIC_ID", get: func(r *leadRec) any { return leadSemantic(r.StatusID) }},
		{name: "MOVED_BY_ID", kind: kInt, get: func(r *leadRec) any { return strOrNil(r.movedBy) }},
		{name: "MOVED_TIME", kind: kDate, get: func(r *leadRec) any { return formatTime(r.movedTime) }},
		{name: "LAST_ACTIVITY_BY", kind: kInt, get: func(r *leadRec) any { return strOrNil(r.modifyBy) }},
		{name: "LAST_ACTIVITY_TIME", kind: kDate, get: func(r *leadRec) any { return formatTime(r.DateModify) }},
	},
	extraFields(func(r *leadRec) map[string]any { return r.extra }, leadExtraSpecs),
),
	func(r *leadRec) int { return r.ID },
	func(r *leadRec) map[string]any { return r.extra },
	func(r *leadRec) map[string][]Multi {
		return map[string][]Multi{"PHONE": r.Phones, "EMAIL": r.Emails, "IM": r.IMs, "WEB": r.web}
	},
)

func (p *Portal) applyLead(r *leadRec, f params, userID int, now time.Time) {
	for k, v := range f {
		s, _ := asString(v)
		switch k {
		case "TITLE":
			r.Title = s
		case "NAME":
			r.Name = s
		case "LAST_NAME":
			r.LastName = s
		case "STATUS_ID":
			if s != r.StatusID {
				r.StatusID = s
				r.movedBy, r.movedTime = userID, now
			}
		case "ASSIGNED_BY_ID":
			r.AssignedByID, _ = asInt(v)
		case "CONTACT_ID":
			r.ContactID, _ = asInt(v)
		case "PHONE":
			r.Phones = p.applyMultiUpdate(r.Phones, v, "PHONE")
		case "EMAIL":
			r.Emails = p.applyMultiUpdate(r.Emails, v, "EMAIL")
		case "IM":
			r.IMs = p.applyMultiUpdate(r.IMs, v, "IM")
		case "WEB":
			r.web = p.applyMultiUpdate(r.web, v, "WEB")
		default:
			if leadWritable[k] || strings.HasPrefix(k, "UF_") {
				storeExtra(&r.extra, k, v)
			}
		}
	}
	normalizeLead(&r.Lead)
}

func normalizeLead(l *Lead) {
	if l.StatusID == "" {
		l.StatusID = "NEW"
	}
	l.Closed = leadSemantic(l.StatusID) != "P"
}

// Deals (crm.deal.get.response.json).

var dealOrder = []string{"ID", "TITLE", "TYPE_ID", "STAGE_ID", "PROBABILITY", "CURRENCY_ID", "OPPORTUNITY", "IS_MANUAL_OPPORTUNITY", "TAX_VALUE", "LEAD_ID", "COMPANY_ID", "CONTACT_ID", "QUOTE_ID", "BEGINDATE", "CLOSEDATE", "ASSIGNED_BY_ID", "CREATED_BY_ID", "MODIFY_BY_ID", "DATE_CREATE", "DATE_MODIFY", "OPENED", "CLOSED", "COMMENTS", "ADDITIONAL_INFO", "LOCATION_ID", "CATEGORY_ID", "STAGE_SEMANTIC_ID", "IS_NEW", "IS_RECURRING", "IS_RETURN_CUSTOMER", "IS_REPEATED_APPROACH", "SOURCE_ID", "SOURCE_DESCRIPTION", "ORIGINATOR_ID", "ORIGIN_ID", "MOVED_BY_ID", "MOVED_TIME", "LAST_ACTIVITY_TIME", "UTM_SOURCE", "UTM_MEDIUM", "UTM_CAMPAIGN", "UTM_CONTENT", "UTM_TERM", "LAST_ACTIVITY_BY"}

var dealExtraSpecs = append([]extraSpec{
	{"TYPE_ID", kString, "SALE"}, {"PROBABILITY", kInt, nil}, {"CURRENCY_ID", kString, "RUB"},
	{"OPPORTUNITY", kFloat, "0.00"}, {"IS_MANUAL_OPPORTUNITY", kString, "N"}, {"TAX_VALUE", kFloat, "0.00"},
	{"LEAD_ID", kInt, nil}, {"COMPANY_ID", kInt, nil}, {"QUOTE_ID", kInt, nil},
	{"OPENED", kString, "Y"}, {"COMMENTS", kString, nil}, {"ADDITIONAL_INFO", kString, nil},
	{"LOCATION_ID", kString, nil}, {"IS_RECURRING", kString, "N"}, {"IS_RETURN_CUSTOMER", kString, "N"},
	{"IS_REPEATED_APPROACH", kString, "N"}, {"SOURCE_ID", kString, nil}, {"SOURCE_DESCRIPTION", kString, nil},
	{"ORIGINATOR_ID", kString, nil}, {"ORIGIN_ID", kString, nil},
}, utmSpecs...)

var dealWritable = func() map[string]bool {
	m := specNames(dealExtraSpecs)
	m["BEGINDATE"], m["CLOSEDATE"] = true, true
	return m
}()

// dealStages are the default stages of every pipeline.
var dealStages = []statusDef{
	{"NEW", "Новая", 10, ""}, {"PREPARATION", "Подготовка документов", 20, ""},
	{"PREPAYMENT_INVOICE", "Счёт на предоплату", 30, ""}, {"EXECUTING", "В работе", 40, ""},
	{"FINAL_INVOICE", "Финальный счёт", 50, ""}, {"WON", "Сделка успешна", 60, "S"},
	{"LOSE", "Сделка провалена", 70, "F"}, {"APOLOGY", "Анализ причины провала", 80, "F"},
}

// stagePrefix is the STAGE_ID prefix of a pipeline ("" for 0, "C1:" for 1).
func stagePrefix(category int) string {
	if category == 0 {
		return ""
	}
	return "C" + strconv.Itoa(category) + ":"
}

// stageSemantic returns P/S/F of a stage of that pipeline; ok=false when
// the stage does not belong to it.
func stageSemantic(category int, stage string) (string, bool) {
	pfx := stagePrefix(category)
	if !strings.HasPrefix(stage, pfx) {
		return "", false
	}
	base := stage[len(pfx):]
	for _, s := range dealStages {
		if s.id == base {
			if s.semantic == "" {
				return "P", true
			}
			return s.semantic, true
		}
	}
	return "", false
}

func dayStart(t time.Time) time.Time {
	t = t.In(portalTZ)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, portalTZ)
}

var dealE = newEntity(ordered(dealOrder,
	[]fieldDef[dealRec]{
		{name: "ID", kind: kInt, get: func(r *dealRec) any { return strconv.Itoa(r.ID) }},
		{name: "TITLE", get: func(r *dealRec) any { return r.Title }},
		{name: "STAGE_ID", get: func(r *dealRec) any { return r.StageID }},
		{name: "CATEGORY_ID", kind: kInt, get: func(r *dealRec) any { return strconv.Itoa(r.CategoryID) }},
		{name: "STAGE_SEMANTIC_ID", get: func(r *dealRec) any { return r.StageSemantic }},
		{name: "CLOSED", get: func(r *dealRec) any { return yn(r.Closed) }},
		{name: "IS_NEW", get: func(r *dealRec) any { return yn(strings.HasSuffix(r.StageID, "NEW")) }},
		{name: "ASSIGNED_BY_ID", kind: kInt, get: func(r *dealRec) any { return strOrNil(r.AssignedByID) }},
		{name: "CONTACT_ID", kind: kInt,
			get: func(r *dealRec) any {
				if len(r.ContactIDs) == 0 {
					return nil
				}
				return strconv.Itoa(r.ContactIDs[0])
			},
			filter: func(r *dealRec) []string {
				out := make([]string, len(r.ContactIDs))
				for i, id := range r.ContactIDs {
					out[i] = strconv.Itoa(id)
				}
				return out
			}},
		{name: "BEGINDATE", kind: kDate, get: func(r *dealRec) any {
			return extraGet(r.extra, "BEGINDATE", formatTime(dayStart(r.DateCreate)))
		}},
		{name: "CLOSEDATE", kind: kDate, get: func(r *dealRec) any {
			return extraGet(r.extra, "CLOSEDATE", formatTime(dayStart(r.DateCreate).AddDate(0, 0, 7)))
		}},
		{name: "CREATED_BY_ID", kind: kInt, get: func(r *dealRec) any { return strOrNil(r.createdBy) }},
		{name: "MODIFY_BY_ID", kind: kInt, get: func(r *dealRec) any { return strOrNil(r.modifyBy) }},
		{name: "DATE_CREATE", kind: kDate, get: func(r *dealRec) any { return formatTime(r.DateCreate) }},
		{name: "DATE_MODIFY", kind: kDate, get: func(r *dealRec) any { return formatTime(r.DateModify) }},
		{name: "MOVED_BY_ID", kind: kInt, get: func(r *dealRec) any { return strOrNil(r.movedBy) }},
		{name: "MOVED_TIME", kind: kDate, get: func(r *dealRec) any { return formatTime(r.movedTime) }},
		{name: "LAST_ACTIVITY_TIME", kind: kDate, get: func(r *dealRec) any { return formatTime(r.DateModify) }},
		{name: "LAST_ACTIVITY_BY", kind: kInt, get: func(r *dealRec) any { return strOrNil(r.modifyBy) }},
	},
	extraFields(func(r *dealRec) map[string]any { return r.extra }, dealExtraSpecs),
),
	func(r *dealRec) int { return r.ID },
	func(r *dealRec) map[string]any { return r.extra },
	nil,
)

// normalizeDeal fills the stage and derives semantic and CLOSED; ok=false
// when the stage does not belong to the deal's pipeline.
func normalizeDeal(d *Deal) bool {
	if d.StageID == "" {
		d.StageID = stagePrefix(d.CategoryID) + "NEW"
	}
	sem, ok := stageSemantic(d.CategoryID, d.StageID)
	if !ok {
		return false
	}
	d.StageSemantic = sem
	d.Closed = sem != "P"
	return true
}

// applyDeal writes REST fields into a deal; CATEGORY_ID is only honoured on
// add (the legacy update ignores pipeline moves).
func (p *Portal) applyDeal(r *dealRec, f params, isAdd bool, userID int, now time.Time) *apiError {
	if isAdd {
		if v, ok := f["CATEGORY_ID"]; ok {
			r.CategoryID, _ = asInt(v)
			if !p.hasCategory(r.CategoryID) {
				return errCRM("Category not found.")
			}
		}
	}
	oldStage := r.StageID
	for k, v := range f {
		s, _ := asString(v)
		switch k {
		case "TITLE":
			r.Title = s
		case "STAGE_ID":
			r.StageID = s
		case "ASSIGNED_BY_ID":
			r.AssignedByID, _ = asInt(v)
		case "CONTACT_ID":
			if n, _ := asInt(v); n > 0 {
				r.ContactIDs = append([]int{n}, removeInt(r.ContactIDs, n)...)
			} else {
				r.ContactIDs = nil
			}
		case "CONTACT_IDS":
			var ids []int
			for _, e := range asList(v) {
				if n, _ := asInt(e); n > 0 && !containsInt(ids, n) {
					ids = append(ids, n)
				}
			}
			r.ContactIDs = ids
		case "CATEGORY_ID":
		default:
			if dealWritable[k] || strings.HasPrefix(k, "UF_") {
				storeExtra(&r.extra, k, v)
			}
		}
	}
	if !normalizeDeal(&r.Deal) {
		return errCRM("Stage " + r.StageID + " does not belong to the deal's pipeline.")
	}
	if r.StageID != oldStage {
		r.movedBy, r.movedTime = userID, now
	}
	return nil
}

func (p *Portal) hasCategory(id int) bool {
	for _, c := range p.categories {
		if c.ID == id {
			return true
		}
	}
	return false
}

func removeInt(s []int, v int) []int {
	out := make([]int, 0, len(s))
	for _, x := range s {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

type statusDef struct {
	id       string
	name     string
	sort     int
	semantic string
}
