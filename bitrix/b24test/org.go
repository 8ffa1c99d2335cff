package b24test

import (
	"slices"
	"sort"
	"strconv"
	"strings"
)

// PageSize is the fixed page size of list methods.
const PageSize = 50

// AddUser adds (or replaces, when ID is taken) a user; ID 0 takes the next
// free id. User 1 (administrator "Admin Adminov") exists by default.
func (p *Portal) AddUser(u User) User {
	p.mu.Lock()
	defer p.mu.Unlock()
	if u.ID == 0 {
		u.ID = p.nextUserID
	}
	if u.ID >= p.nextUserID {
		p.nextUserID = u.ID + 1
	}
	if u.UserType == "" {
		u.UserType = "employee"
	}
	if u.Lang == "" {
		u.Lang = p.lang
	}
	if len(u.Departments) == 0 && u.UserType == "employee" {
		u.Departments = []int{1}
	}
	u.Departments = slices.Clone(u.Departments)
	cp := u
	p.users[u.ID] = &cp
	return u
}

// User returns a user by id.
func (p *Portal) User(id int) (User, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	u, ok := p.users[id]
	if !ok {
		return User{}, false
	}
	out := *u
	out.Departments = slices.Clone(u.Departments)
	return out, true
}

// AddDepartment adds (or replaces) a department; ID 0 takes the next free
// id. Department 1 (the company root) exists by default.
func (p *Portal) AddDepartment(d Department) Department {
	p.mu.Lock()
	defer p.mu.Unlock()
	if d.ID == 0 {
		d.ID = p.nextDeptID
	}
	if d.ID >= p.nextDeptID {
		p.nextDeptID = d.ID + 1
	}
	if d.ID != 1 && d.Parent == 0 {
		d.Parent = 1
	}
	if d.Sort == 0 {
		d.Sort = 500
	}
	cp := d
	p.depts[d.ID] = &cp
	return d
}

// renderUser is a user as user.get / user.current return it.
func (p *Portal) renderUser(u *User) map[string]any {
	depts := make([]int, len(u.Departments))
	copy(depts, u.Departments)
	registered := formatTime(p.o.Now().AddDate(0, -1, 0).Truncate(24 * 3600e9))
	return map[string]any{
		"ID":                 strconv.Itoa(u.ID),
		"ACTIVE":             u.Active,
		"NAME":               u.Name,
		"LAST_NAME":          u.LastName,
		"SECOND_NAME":        "",
		"EMAIL":              u.Email,
		"LAST_LOGIN":         formatTime(p.o.Now()),
		"DATE_REGISTER":      registered,
		"TIME_ZONE":          "",
		"IS_ONLINE":          "N",
		"TIMESTAMP_X":        p.o.Now().In(portalTZ).Format("02.01.2006 15:04:05"),
		"LAST_ACTIVITY_DATE": p.o.Now().In(portalTZ).Format("2006-01-02 15:04:05"),
		"PERSONAL_GENDER":    "",
		"PERSONAL_WWW":       "",
		"PERSONAL_BIRTHDAY":  "",
		"PERSONAL_MOBILE":    "",
		"PERSONAL_CITY":      "",
		"WORK_PHONE":         "",
		"WORK_POSITION":      "",
		"UF_EMPLOYMENT_DATE": "",
		"UF_DEPARTMENT":      depts,
		"USER_TYPE":          u.UserType,
	}
}

func methodUserCurrent(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	u := p.users[c.userID]
	return ok(p.renderUser(u))
}

func methodProfile(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	u := p.users[c.userID]
	return ok(map[string]any{
		"ID":              strconv.Itoa(u.ID),
		"ADMIN":           u.Admin,
		"NAME":            u.Name,
		"LAST_NAME":       u.LastName,
		"PERSONAL_GENDER": "",
		"TIME_ZONE":       "",
	})
}

// appInfo is app.info's result (used by the portal and by the OAuth
// server's own /rest/app.info).
func (p *Portal) appInfo() map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.appInfoLocked()
}

func (p *Portal) appInfoLocked() map[string]any {
	return map[string]any{
		"ID":              p.appID,
		"CODE":            p.o.app.ClientID,
		"VERSION":         1,
		"STATUS":          "L",
		"INSTALLED":       p.installed,
		"PAYMENT_EXPIRED": "N",
		"DAYS":            nil,
		"LANGUAGE_ID":     p.lang,
		"LICENSE":         p.lang + "_project",
		"LICENSE_TYPE":    "project",
		"LICENSE_FAMILY":  "project",
	}
}

func methodScope(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	var out []string
	for s := range p.scope {
		out = append(out, s)
	}
	sort.Strings(out)
	return ok(out)
}

func methodMethods(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	out := []string{"batch"}
	for name, def := range restMethods {
		if def.scope == "" || p.scope[def.scope] {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return ok(out)
}

// userListReserved are user.get parameters that are not filter fields when
// the filter is given at the top level (user.get?ID=1 works on portals).
var userListReserved = []string{"FILTER", "SORT", "ORDER", "START", "ADMIN_MODE", "SELECT"}

func methodUserGet(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	var filter map[string]any
	if f, ok := in.get("FILTER"); ok {
		filter, _ = asMap(f)
	} else {
		filter = in.without(userListReserved...)
	}
	adminMode := false
	if v, ok := in.get("ADMIN_MODE"); ok {
		adminMode = asBool(v) && c.admin
	}
	conds := parseFilter(filter)
	sortField := strings.ToUpper(in.str("SORT"))
	desc := strings.EqualFold(in.str("ORDER"), "DESC")

	var users []*User
	for _, u := range p.users {
		if !adminMode && u.UserType != "employee" && u.UserType != "extranet" {
			continue // bots, e-mail users, connectors only show in admin mode
		}
		if !userMatches(u, conds) {
			continue
		}
		users = append(users, u)
	}
	sort.Slice(users, func(i, j int) bool {
		a, b := users[i], users[j]
		var less, eq bool
		switch sortField {
		case "NAME":
			less, eq = a.Name < b.Name, a.Name == b.Name
		case "LAST_NAME":
			less, eq = a.LastName < b.LastName, a.LastName == b.LastName
		case "EMAIL":
			less, eq = a.Email < b.Email, a.Email == b.Email
		default:
			less, eq = a.ID < b.ID, a.ID == b.ID
		}
		if eq {
			return a.ID < b.ID
		}
		if desc {
			return !less
		}
		return less
	})
	start, _ := in.int("START")
	return pageOf(len(users), start, func(i int) any { return p.renderUser(users[i]) })
}

// pageOf cuts one page out of n sorted items.
func pageOf(n, start int, render func(i int) any) (*restResult, *apiError) {
	counted := start >= 0
	if start < 0 {
		start = 0
	}
	out := []any{}
	for i := start; i < n && i < start+PageSize; i++ {
		out = append(out, render(i))
	}
	next := 0
	if counted && start+PageSize < n {
		next = start + PageSize
	}
	return listResult(out, n, next, counted)
}

func userMatches(u *User, conds []cond) bool {
	for _, c := range conds {
		var vals []string
		kind := kString
		switch c.field {
		case "ID":
			vals, kind = []string{strconv.Itoa(u.ID)}, kInt
		case "ACTIVE":
			vals = []string{yn(u.Active)}
			c = normalizeBoolCond(c)
		case "NAME":
			vals = []string{u.Name}
		case "LAST_NAME":
			vals = []string{u.LastName}
		case "EMAIL":
			vals = []string{u.Email}
		case "USER_TYPE":
			vals = []string{u.UserType}
		case "UF_DEPARTMENT":
			for _, d := range u.Departments {
				vals = append(vals, strconv.Itoa(d))
			}
			kind = kInt
		case "IS_ADMIN":
			vals = []string{yn(u.Admin)}
			c = normalizeBoolCond(c)
		case "NAME_SEARCH", "FIND":
			q := strings.ToLower(strings.Join(c.values, " "))
			full := strings.ToLower(u.Name + " " + u.LastName + " " + u.Email)
			if !strings.Contains(full, q) {
				return false
			}
			continue
		default:
			continue // unknown filter fields are ignored, as the portal does
		}
		if !matchValues(vals, kind, c) {
			return false
		}
	}
	return true
}

// normalizeBoolCond maps true/"true"/1 filter values to Y/N.
func normalizeBoolCond(c cond) cond {
	out := c
	out.values = make([]string, len(c.values))
	for i, v := range c.values {
		out.values[i] = yn(asBool(v))
	}
	return out
}

func (p *Portal) renderDepartment(d *Department) map[string]any {
	m := map[string]any{
		"ID":   strconv.Itoa(d.ID),
		"NAME": d.Name,
		"SORT": d.Sort,
	}
	if d.Parent != 0 {
		m["PARENT"] = strconv.Itoa(d.Parent)
	}
	if d.Head != 0 {
		m["UF_HEAD"] = strconv.Itoa(d.Head)
	}
	return m
}

var departmentReserved = []string{"SORT", "ORDER", "START", "FILTER"}

func methodDepartmentGet(p *Portal, c *callCtx, in params) (*restResult, *apiError) {
	var filter map[string]any
	if f, ok := in.get("FILTER"); ok {
		filter, _ = asMap(f)
	} else {
		filter = in.without(departmentReserved...)
	}
	conds := parseFilter(filter)
	var depts []*Department
	for _, d := range p.depts {
		match := true
		for _, c := range conds {
			var vals []string
			kind := kString
			switch c.field {
			case "ID":
				vals, kind = []string{strconv.Itoa(d.ID)}, kInt
			case "PARENT":
				vals, kind = []string{strconv.Itoa(d.Parent)}, kInt
			case "UF_HEAD":
				vals, kind = []string{strconv.Itoa(d.Head)}, kInt
			case "SORT":
				vals, kind = []string{strconv.Itoa(d.Sort)}, kInt
			case "NAME":
				vals = []string{d.Name}
			default:
				continue
			}
			if !matchValues(vals, kind, c) {
				match = false
				break
			}
		}
		if match {
			depts = append(depts, d)
		}
	}
	sortField := strings.ToUpper(in.str("SORT"))
	desc := strings.EqualFold(in.str("ORDER"), "DESC")
	sort.Slice(depts, func(i, j int) bool {
		a, b := depts[i], depts[j]
		var less, eq bool
		switch sortField {
		case "NAME":
			less, eq = a.Name < b.Name, a.Name == b.Name
		case "SORT":
			less, eq = a.Sort < b.Sort, a.Sort == b.Sort
		default:
			less, eq = a.ID < b.ID, a.ID == b.ID
		}
		if eq {
			return a.ID < b.ID
		}
		if desc {
			return !less
		}
		return less
	})
	start, _ := in.int("START")
	return pageOf(len(depts), start, func(i int) any { return p.renderDepartment(depts[i]) })
}
