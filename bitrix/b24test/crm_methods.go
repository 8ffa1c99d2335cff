package b24test

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Seeding and inspection API (Go side). These never fire events: they are
// the test's own hand on the data, not a user's action.

// AddContact stores a contact; ID 0 takes the next id, zero dates are set
// from the emulated clock, multifield ids are assigned.
func (p *Portal) AddContact(c Contact) Contact {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := &contactRec{Contact: cloneContact(c)}
	p.insertContact(r, 0)
	return cloneContact(r.Contact)
}

// UpdateContact replaces a contact's public fields and bumps DateModify;
// an unknown ID is ignored.
func (p *Portal) UpdateContact(c Contact) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.contacts.get(c.ID)
	if old == nil {
		return
	}
	r := *old
	r.Contact = cloneContact(c)
	r.DateCreate = old.DateCreate
	if r.AssignedByID == 0 {
		r.AssignedByID = old.AssignedByID
	}
	r.DateModify = p.o.Now()
	p.prepareContactMultis(&r)
	p.indexComms(true, old.ID, old.Phones, old.Emails, false)
	p.contacts.put(r.ID, &r)
	p.indexComms(true, r.ID, r.Phones, r.Emails, true)
}

// DeleteContact removes a contact (and unbinds it from deals).
func (p *Portal) DeleteContact(id int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deleteContactLocked(id)
}

// Contact returns a contact by id.
func (p *Portal) Contact(id int) (Contact, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.contacts.get(id)
	if r == nil {
		return Contact{}, false
	}
	return cloneContact(r.Contact), true
}

// Contacts is the number of contacts.
func (p *Portal) Contacts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.contacts.len()
}

// AddLead stores a lead (same conventions as AddContact).
func (p *Portal) AddLead(l Lead) Lead {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := &leadRec{Lead: cloneLead(l)}
	p.insertLead(r, 0)
	return cloneLead(r.Lead)
}

// UpdateLead replaces a lead's public fields and bumps DateModify.
func (p *Portal) UpdateLead(l Lead) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.leads.get(l.ID)
	if old == nil {
		return
	}
	r := *old
	r.Lead = cloneLead(l)
	r.DateCreate = old.DateCreate
	if r.AssignedByID == 0 {
		r.AssignedByID = old.AssignedByID
	}
	r.DateModify = p.o.Now()
	normalizeLead(&r.Lead)
	p.prepareLeadMultis(&r)
	p.indexComms(false, old.ID, old.Phones, old.Emails, false)
	p.leads.put(r.ID, &r)
	p.indexComms(false, r.ID, r.Phones, r.Emails, true)
}

// DeleteLead removes a lead.
func (p *Portal) DeleteLead(id int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deleteLeadLocked(id)
}

// Lead returns a lead by id.
func (p *Portal) Lead(id int) (Lead, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.leads.get(id)
	if r == nil {
		return Lead{}, false
	}
	return cloneLead(r.Lead), true
}

// Leads is the number of leads.
func (p *Portal) Leads() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.leads.len()
}

// AddDeal stores a deal; an empty StageID is the pipeline's NEW stage and
// StageSemantic/Closed are derived from the stage. A stage that does not
// belong to the pipeline is stored as the pipeline's NEW stage.
func (p *Portal) AddDeal(d Deal) Deal {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := &dealRec{Deal: cloneDeal(d)}
	p.insertDeal(r, 0)
	return cloneDeal(r.Deal)
}

// UpdateDeal replaces a deal's public fields and bumps DateModify.
func (p *Portal) UpdateDeal(d Deal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.deals.get(d.ID)
	if old == nil {
		return
	}
	r := *old
	r.Deal = cloneDeal(d)
	r.DateCreate = old.DateCreate
	if r.AssignedByID == 0 {
		r.AssignedByID = old.AssignedByID
	}
	r.DateModify = p.o.Now()
	if !normalizeDeal(&r.Deal) {
		r.StageID = ""
		normalizeDeal(&r.Deal)
	}
	if r.StageID != old.StageID {
		r.movedTime = r.DateModify
	}
	p.indexDeal(old, false)
	p.deals.put(r.ID, &r)
	p.indexDeal(&r, true)
}

// DeleteDeal removes a deal.
func (p *Portal) DeleteDeal(id int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deleteDealLocked(id)
}

// Deal returns a deal by id.
func (p *Portal) Deal(id int) (Deal, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.deals.get(id)
	if r == nil {
		return Deal{}, false
	}
	return cloneDeal(r.Deal), true
}

// Deals is the number of deals.
func (p *Portal) Deals() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.deals.len()
}

// AddDealCategory adds a deal pipeline (category 0 "General" exists).
func (p *Portal) AddDealCategory(id int, name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, c := range p.categories {
		if c.ID == id {
			p.categories[i].Name = name
			return
		}
	}
	p.categories = append(p.categories, dealCategory{ID: id, Name: name, Sort: 100 + 100*len(p.categories)})
}

func cloneMultis(m []Multi) []Multi { return slices.Clone(m) }

func cloneContact(c Contact) Contact {
	c.Phones, c.Emails, c.IMs = cloneMultis(c.Phones), cloneMultis(c.Emails), cloneMultis(c.IMs)
	return c
}

func cloneLead(l Lead) Lead {
	l.Phones, l.Emails, l.IMs = cloneMultis(l.Phones), cloneMultis(l.Emails), cloneMultis(l.IMs)
	return l
}

func cloneDeal(d Deal) Deal {
	d.ContactIDs = slices.Clone(d.ContactIDs)
	return d
}

// Internal storage operations; callers hold p.mu.

func (p *Portal) stamp(created, modified *time.Time) {
	now := p.o.Now()
	if created.IsZero() {
		*created = now
	}
	if modified.IsZero() {
		*modified = *created
	}
}

// defaultOwners fills the responsible, creator and modifier a record must
// have: the acting user, or the administrator (1) for seeded records.
func (p *Portal) defaultOwners(assigned, created, modified *int, userID int) {
	if userID <= 0 {
		userID = 1
	}
	if *assigned == 0 {
		*assigned = userID
	}
	if *created == 0 {
		*created = userID
	}
	if *modified == 0 {
		*modified = *created
	}
}

func (p *Portal) prepareContactMultis(r *contactRec) {
	r.Phones = p.prepareMultis(r.Phones, "PHONE")
	r.Emails = p.prepareMultis(r.Emails, "EMAIL")
	r.IMs = p.prepareMultis(r.IMs, "IM")
	r.web = p.prepareMultis(r.web, "WEB")
}

func (p *Portal) prepareLeadMultis(r *leadRec) {
	r.Phones = p.prepareMultis(r.Phones, "PHONE")
	r.Emails = p.prepareMultis(r.Emails, "EMAIL")
	r.IMs = p.prepareMultis(r.IMs, "IM")
	r.web = p.prepareMultis(r.web, "WEB")
}

func (p *Portal) insertContact(r *contactRec, userID int) {
	if r.ID == 0 {
		r.ID = p.contacts.next
	}
	p.stamp(&r.DateCreate, &r.DateModify)
	p.defaultOwners(&r.AssignedByID, &r.createdBy, &r.modifyBy, userID)
	p.prepareContactMultis(r)
	if old := p.contacts.get(r.ID); old != nil {
		p.indexComms(true, old.ID, old.Phones, old.Emails, false)
	}
	p.contacts.put(r.ID, r)
	p.indexComms(true, r.ID, r.Phones, r.Emails, true)
}

func (p *Portal) insertLead(r *leadRec, userID int) {
	if r.ID == 0 {
		r.ID = p.leads.next
	}
	p.stamp(&r.DateCreate, &r.DateModify)
	p.defaultOwners(&r.AssignedByID, &r.createdBy, &r.modifyBy, userID)
	normalizeLead(&r.Lead)
	r.movedTime = r.DateCreate
	if r.movedBy == 0 {
		r.movedBy = r.createdBy
	}
	p.prepareLeadMultis(r)
	if old := p.leads.get(r.ID); old != nil {
		p.indexComms(false, old.ID, old.Phones, old.Emails, false)
	}
	p.leads.put(r.ID, r)
	p.indexComms(false, r.ID, r.Phones, r.Emails, true)
}

func (p *Portal) insertDeal(r *dealRec, userID int) {
	if r.ID == 0 {
		r.ID = p.deals.next
	}
	p.stamp(&r.DateCreate, &r.DateModify)
	p.defaultOwners(&r.AssignedByID, &r.createdBy, &r.modifyBy, userID)
	if !normalizeDeal(&r.Deal) {
		r.StageID = ""
		normalizeDeal(&r.Deal)
	}
	r.movedTime = r.DateCreate
	if r.movedBy == 0 {
		r.movedBy = r.createdBy
	}
	if old := p.deals.get(r.ID); old != nil {
		p.indexDeal(old, false)
	}
	p.deals.put(r.ID, r)
	p.indexDeal(r, true)
}

func (p *Portal) deleteContactLocked(id int) bool {
	r := p.contacts.get(id)
	if r == nil {
		return false
	}
	p.indexComms(true, id, r.Phones, r.Emails, false)
	p.contacts.remove(id)
	// Deleting a contact unbinds it from its deals.
	for _, did := range slices.Clone(p.dealsByCt[id]) {
		if d := p.deals.get(did); d != nil {
			nd := *d
			nd.ContactIDs = removeInt(d.ContactIDs, id)
			p.indexDeal(d, false)
			p.deals.put(did, &nd)
			p.indexDeal(&nd, true)
		}
	}
	return true
}

func (p *Portal) deleteLeadLocked(id int) bool {
	r := p.leads.get(id)
	if r == nil {
		return false
	}
	p.indexComms(false, id, r.Phones, r.Emails, false)
	return p.leads.remove(id)
}

func (p *Portal) deleteDealLocked(id int) bool {
	r := p.deals.get(id)
	if r == nil {
		return false
	}
	p.indexDeal(r, false)
	return p.deals.remove(id)
}

// indexDeal maintains contact id → deal ids (sorted) for CONTACT_ID filters.
func (p *Portal) indexDeal(d *dealRec, add bool) {
	for _, cid := range d.ContactIDs {
		list := p.dealsByCt[cid]
		i := sort.SearchInts(list, d.ID)
		found := i < len(list) && list[i] == d.ID
		switch {
		case add && !found:
			list = slices.Insert(list, i, d.ID)
		case !add && found:
			list = slices.Delete(list, i, i+1)
		}
		if len(list) == 0 {
			delete(p.dealsByCt, cid)
		} else {
			p.dealsByCt[cid] = list
		}
	}
}

func (p *Portal) queueEvent(c *callCtx, event string, id int) {
	if p.autoEvents {
		c.events = append(c.events, pendingEvent{event: event, id: id})
	}
}

// REST methods: contacts.

func methodContactList(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	return contactE.list(&p.contacts, parseListQuery(in))
}

func methodContactGet(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	id, e := crmID(in)
	if e != nil {
		return nil, e
	}
	r := p.contacts.get(id)
	if r == nil {
		return nil, errCRM("Not found")
	}
	return ok(contactE.render(r, fullSelection()))
}

func methodContactAdd(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	f, e := crmFields(in)
	if e != nil {
		return nil, e
	}
	r := &contactRec{}
	r.AssignedByID = c.userID
	p.applyContact(r, f)
	r.createdBy, r.modifyBy = c.userID, c.userID
	p.insertContact(r, c.userID)
	p.queueEvent(c, "ONCRMCONTACTADD", r.ID)
	return ok(r.ID)
}

func methodContactUpdate(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	id, e := crmID(in)
	if e != nil {
		return nil, e
	}
	f, e := crmFields(in)
	if e != nil {
		return nil, e
	}
	old := p.contacts.get(id)
	if old == nil {
		return nil, errCRM("Not found")
	}
	r := *old
	r.Contact = cloneContact(old.Contact)
	r.web = cloneMultis(old.web)
	r.extra = cloneExtra(old.extra)
	p.applyContact(&r, f)
	r.DateModify, r.modifyBy = c.now, c.userID
	p.indexComms(true, id, old.Phones, old.Emails, false)
	p.contacts.put(id, &r)
	p.indexComms(true, id, r.Phones, r.Emails, true)
	p.queueEvent(c, "ONCRMCONTACTUPDATE", id)
	return ok(true)
}

func methodContactDelete(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	id, e := crmID(in)
	if e != nil {
		return nil, e
	}
	if !p.deleteContactLocked(id) {
		return nil, errCRM("Not found")
	}
	p.queueEvent(c, "ONCRMCONTACTDELETE", id)
	return ok(true)
}

func cloneExtra(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// REST methods: leads.

func methodLeadList(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	return leadE.list(&p.leads, parseListQuery(in))
}

func methodLeadGet(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	id, e := crmID(in)
	if e != nil {
		return nil, e
	}
	r := p.leads.get(id)
	if r == nil {
		return nil, errCRM("Not found")
	}
	return ok(leadE.render(r, fullSelection()))
}

func methodLeadAdd(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	f, e := crmFields(in)
	if e != nil {
		return nil, e
	}
	r := &leadRec{}
	r.AssignedByID = c.userID
	p.applyLead(r, f, c.userID, c.now)
	r.createdBy, r.modifyBy, r.movedBy = c.userID, c.userID, c.userID
	p.insertLead(r, c.userID)
	p.queueEvent(c, "ONCRMLEADADD", r.ID)
	return ok(r.ID)
}

func methodLeadUpdate(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	id, e := crmID(in)
	if e != nil {
		return nil, e
	}
	f, e := crmFields(in)
	if e != nil {
		return nil, e
	}
	old := p.leads.get(id)
	if old == nil {
		return nil, errCRM("Not found")
	}
	r := *old
	r.Lead = cloneLead(old.Lead)
	r.web = cloneMultis(old.web)
	r.extra = cloneExtra(old.extra)
	p.applyLead(&r, f, c.userID, c.now)
	r.DateModify, r.modifyBy = c.now, c.userID
	p.indexComms(false, id, old.Phones, old.Emails, false)
	p.leads.put(id, &r)
	p.indexComms(false, id, r.Phones, r.Emails, true)
	p.queueEvent(c, "ONCRMLEADUPDATE", id)
	return ok(true)
}

func methodLeadDelete(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	id, e := crmID(in)
	if e != nil {
		return nil, e
	}
	if !p.deleteLeadLocked(id) {
		return nil, errCRM("Not found")
	}
	p.queueEvent(c, "ONCRMLEADDELETE", id)
	return ok(true)
}

// REST methods: deals.

func methodDealList(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	q := parseListQuery(in)
	// CONTACT_ID=<id> is answered from the contact → deals index.
	for i, cd := range q.conds {
		if cd.field == "CONTACT_ID" && (cd.op == "=" || cd.op == "in") && len(cd.values) == 1 {
			if n, err := strconv.Atoi(strings.TrimSpace(cd.values[0])); err == nil {
				q.cands = p.dealsByCt[n]
				if q.cands == nil {
					q.cands = []int{}
				}
				q.conds = slices.Delete(slices.Clone(q.conds), i, i+1)
				break
			}
		}
	}
	return dealE.list(&p.deals, q)
}

func methodDealGet(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	id, e := crmID(in)
	if e != nil {
		return nil, e
	}
	r := p.deals.get(id)
	if r == nil {
		return nil, errCRM("Not found")
	}
	return ok(dealE.render(r, fullSelection()))
}

func methodDealAdd(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	f, e := crmFields(in)
	if e != nil {
		return nil, e
	}
	r := &dealRec{}
	r.AssignedByID = c.userID
	if e := p.applyDeal(r, f, true, c.userID, c.now); e != nil {
		return nil, e
	}
	r.createdBy, r.modifyBy, r.movedBy = c.userID, c.userID, c.userID
	p.insertDeal(r, c.userID)
	p.queueEvent(c, "ONCRMDEALADD", r.ID)
	return ok(r.ID)
}

func methodDealUpdate(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	id, e := crmID(in)
	if e != nil {
		return nil, e
	}
	f, e := crmFields(in)
	if e != nil {
		return nil, e
	}
	old := p.deals.get(id)
	if old == nil {
		return nil, errCRM("Not found")
	}
	r := *old
	r.Deal = cloneDeal(old.Deal)
	r.extra = cloneExtra(old.extra)
	if e := p.applyDeal(&r, f, false, c.userID, c.now); e != nil {
		return nil, e
	}
	r.DateModify, r.modifyBy = c.now, c.userID
	p.indexDeal(old, false)
	p.deals.put(id, &r)
	p.indexDeal(&r, true)
	p.queueEvent(c, "ONCRMDEALUPDATE", id)
	return ok(true)
}

func methodDealDelete(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	id, e := crmID(in)
	if e != nil {
		return nil, e
	}
	if !p.deleteDealLocked(id) {
		return nil, errCRM("Not found")
	}
	p.queueEvent(c, "ONCRMDEALDELETE", id)
	return ok(true)
}

func methodDealContactItemsGet(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	id, e := crmID(in)
	if e != nil {
		return nil, e
	}
	r := p.deals.get(id)
	if r == nil {
		return nil, errCRM("Not found")
	}
	out := make([]any, len(r.ContactIDs))
	for i, cid := range r.ContactIDs {
		out[i] = map[string]any{"CONTACT_ID": cid, "SORT": (i + 1) * 100, "ROLE_ID": 0, "IS_PRIMARY": yn(i == 0)}
	}
	return ok(out)
}

func methodDealContactItemsSet(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	id, e := crmID(in)
	if e != nil {
		return nil, e
	}
	old := p.deals.get(id)
	if old == nil {
		return nil, errCRM("Not found")
	}
	type item struct {
		id, sort int
		primary  bool
	}
	itemsV, _ := in.get("items")
	var items []item
	for i, raw := range asList(itemsV) {
		m, isMap := asMap(raw)
		if !isMap {
			return nil, errCRM("The parameter 'items' must be array.")
		}
		ip := params(m)
		cid, _ := ip.int("CONTACT_ID")
		if cid <= 0 || p.contacts.get(cid) == nil {
			return nil, errCRM("Contact " + ip.str("CONTACT_ID") + " is not found.")
		}
		srt, has := ip.int("SORT")
		if !has {
			srt = (i + 1) * 10
		}
		items = append(items, item{cid, srt, asBool(ip.str("IS_PRIMARY"))})
	}
	sort.SliceStable(items, func(a, b int) bool {
		if items[a].primary != items[b].primary {
			return items[a].primary
		}
		return items[a].sort < items[b].sort
	})
	r := *old
	r.Deal = cloneDeal(old.Deal)
	r.ContactIDs = nil
	for _, it := range items {
		if !containsInt(r.ContactIDs, it.id) {
			r.ContactIDs = append(r.ContactIDs, it.id)
		}
	}
	r.DateModify, r.modifyBy = c.now, c.userID
	p.indexDeal(old, false)
	p.deals.put(id, &r)
	p.indexDeal(&r, true)
	p.queueEvent(c, "ONCRMDEALUPDATE", id)
	return ok(true)
}

func methodCategoryList(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	et, has := in.int("entityTypeId")
	if !has {
		return nil, errArgNull("entityTypeId")
	}
	var cats []dealCategory
	switch et {
	case 2:
		cats = append(cats, p.categories...)
		sort.Slice(cats, func(i, j int) bool { return cats[i].Sort < cats[j].Sort })
	case 3, 4:
		cats = []dealCategory{{ID: 0, Name: "General", Sort: 100}}
	default:
		return nil, errCode(400, "NOT_SUPPORTED", "Entity type "+strconv.Itoa(et)+" does not support categories")
	}
	out := make([]any, len(cats))
	for i, ct := range cats {
		out[i] = map[string]any{
			"id": ct.ID, "name": ct.Name, "sort": ct.Sort, "entityTypeId": et,
			"isDefault": yn(ct.ID == 0), "originId": "", "originatorId": "",
		}
	}
	r, _ := listResult(map[string]any{"categories": out}, len(out), 0, true)
	return r, nil
}

func methodStatusList(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	var rows []map[string]any
	seq := 1
	addAll := func(entityID string, category *int, pfx string, defs []statusDef) {
		for _, s := range defs {
			sem := any(nil)
			extraSem := "process"
			color := "#39A8EF"
			switch s.semantic {
			case "S":
				sem, extraSem, color = "S", "success", "#7BD500"
			case "F":
				sem, extraSem, color = "F", "failure", "#FF5752"
			}
			row := map[string]any{
				"ID": strconv.Itoa(seq), "ENTITY_ID": entityID, "STATUS_ID": pfx + s.id,
				"NAME": s.name, "NAME_INIT": s.name, "SORT": strconv.Itoa(s.sort), "SYSTEM": "Y",
				"COLOR": color, "SEMANTICS": sem, "CATEGORY_ID": nil,
				"EXTRA": map[string]any{"SEMANTICS": extraSem, "COLOR": color},
			}
			if category != nil {
				row["CATEGORY_ID"] = strconv.Itoa(*category)
			}
			rows = append(rows, row)
			seq++
		}
	}
	addAll("STATUS", nil, "", leadStatuses)
	for _, ct := range p.categories {
		id := ct.ID
		ent := "DEAL_STAGE"
		if id != 0 {
			ent = "DEAL_STAGE_" + strconv.Itoa(id)
		}
		addAll(ent, &id, stagePrefix(id), dealStages)
	}
	addAll("SOURCE", nil, "", []statusDef{{"CALL", "Звонок", 10, ""}, {"EMAIL", "E-Mail", 20, ""}, {"WEB", "Веб-сайт", 30, ""}, {"SELF", "Свой контакт", 40, ""}, {"OTHER", "Другое", 50, ""}})
	addAll("CONTACT_TYPE", nil, "", []statusDef{{"CLIENT", "Клиенты", 10, ""}, {"SUPPLIER", "Поставщики", 20, ""}, {"PARTNER", "Партнеры", 30, ""}, {"OTHER", "Другое", 40, ""}})

	fv, _ := in.get("filter")
	fm, _ := asMap(fv)
	conds := parseFilter(fm)
	out := []any{}
	for _, row := range rows {
		match := true
		for _, cd := range conds {
			v, known := row[cd.field]
			if !known {
				continue
			}
			s, _ := asString(v)
			kind := kString
			if cd.field == "ID" || cd.field == "SORT" || cd.field == "CATEGORY_ID" {
				kind = kInt
			}
			if !matchValues([]string{s}, kind, cd) {
				match = false
				break
			}
		}
		if match {
			out = append(out, row)
		}
	}
	r, _ := listResult(out, len(out), 0, true)
	return r, nil
}

// MaxDuplicateValues is how many values crm.duplicate.findbycomm accepts.
const MaxDuplicateValues = 20

func methodDuplicateFindByComm(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	typ := strings.ToUpper(strings.TrimSpace(in.str("type")))
	if typ != "PHONE" && typ != "EMAIL" {
		return nil, errCRM("Communication type '" + typ + "' is not supported in current context.")
	}
	vv, _ := in.get("values")
	values := asList(vv)
	if len(values) == 0 {
		return nil, errCRM("Communication values are not defined.")
	}
	if len(values) > MaxDuplicateValues {
		return nil, errCRM("Too many communication values. Maximum is " + strconv.Itoa(MaxDuplicateValues) + ".")
	}
	entityType := strings.ToUpper(strings.TrimSpace(in.str("entity_type")))
	switch entityType {
	case "", "LEAD", "CONTACT", "COMPANY":
	default:
		return nil, errCRM("Entity type '" + entityType + "' is not supported in current context.")
	}
	idx, norm := p.phoneIdx, digitsOnly
	if typ == "EMAIL" {
		idx, norm = p.emailIdx, normEmail
	}
	var leads, contacts []int
	for _, v := range values {
		s, _ := asString(v)
		o := idx[norm(s)]
		if o == nil {
			continue
		}
		for _, id := range o.leads {
			if !containsInt(leads, id) {
				leads = append(leads, id)
			}
		}
		for _, id := range o.contacts {
			if !containsInt(contacts, id) {
				contacts = append(contacts, id)
			}
		}
	}
	sort.Ints(leads)
	sort.Ints(contacts)
	out := newOmap()
	if len(leads) > 0 && (entityType == "" || entityType == "LEAD") {
		out.set("LEAD", leads)
	}
	if len(contacts) > 0 && (entityType == "" || entityType == "CONTACT") {
		out.set("CONTACT", contacts)
	}
	return ok(out)
}
