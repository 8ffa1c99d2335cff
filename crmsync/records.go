package crmsync

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/relay24/relay24/bitrix"
	"github.com/relay24/relay24/identity"
	"github.com/relay24/relay24/store"
)

// The portal's legacy crm.* and user.* methods send numbers as strings,
// booleans as "Y"/"N" or true, empty values as "" or null: these read either.

// num is the portal's lenient integer.
type num = bitrix.Int

type flag bool

func (f *flag) UnmarshalJSON(b []byte) error {
	switch strings.ToUpper(strings.Trim(string(b), `"`)) {
	case "Y", "TRUE", "1":
		*f = true
	case "N", "FALSE", "0", "", "NULL":
		*f = false
	default:
		return fmt.Errorf("not a boolean: %s", b)
	}
	return nil
}

type stamp time.Time

func (t *stamp) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*t = stamp{}
		return nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "02.01.2006 15:04:05", "2006-01-02 15:04:05"} {
		if v, err := time.Parse(layout, s); err == nil {
			*t = stamp(v)
			return nil
		}
	}
	return fmt.Errorf("not a date: %s", b)
}

type multi struct {
	TypeID    string `json:"TYPE_ID"`
	ValueType string `json:"VALUE_TYPE"`
	Value     string `json:"VALUE"`
}

func identities(lists ...[]multi) []identity.ID {
	var out []identity.ID
	for _, l := range lists {
		for _, m := range l {
			out = append(out, identity.FromMultifield(m.TypeID, m.ValueType, m.Value)...)
		}
	}
	return out
}

func fullName(parts ...string) string {
	var nonEmpty []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			nonEmpty = append(nonEmpty, p)
		}
	}
	return strings.Join(nonEmpty, " ")
}

var contactSelect = []string{"ID", "NAME", "SECOND_NAME", "LAST_NAME", "ASSIGNED_BY_ID", "DATE_MODIFY", "PHONE", "IM"}

func parseContact(raw json.RawMessage) (store.Contact, error) {
	var v struct {
		ID         num     `json:"ID"`
		Name       string  `json:"NAME"`
		SecondName string  `json:"SECOND_NAME"`
		LastName   string  `json:"LAST_NAME"`
		AssignedBy num     `json:"ASSIGNED_BY_ID"`
		DateModify stamp   `json:"DATE_MODIFY"`
		Phone      []multi `json:"PHONE"`
		IM         []multi `json:"IM"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return store.Contact{}, err
	}
	if v.ID <= 0 {
		return store.Contact{}, fmt.Errorf("no ID")
	}
	return store.Contact{ID: int64(v.ID), Name: fullName(v.Name, v.SecondName, v.LastName), AssignedByID: int64(v.AssignedBy),
		DateModify: time.Time(v.DateModify), Identities: identities(v.Phone, v.IM)}, nil
}

var leadSelect = []string{"ID", "TITLE", "NAME", "SECOND_NAME", "LAST_NAME", "STATUS_ID", "STATUS_SEMANTIC_ID", "ASSIGNED_BY_ID", "CONTACT_ID", "DATE_MODIFY", "PHONE", "IM"}

func parseLead(raw json.RawMessage) (store.Lead, error) {
	var v struct {
		ID         num     `json:"ID"`
		Title      string  `json:"TITLE"`
		Name       string  `json:"NAME"`
		SecondName string  `json:"SECOND_NAME"`
		LastName   string  `json:"LAST_NAME"`
		StatusID   string  `json:"STATUS_ID"`
		Semantic   string  `json:"STATUS_SEMANTIC_ID"`
		AssignedBy num     `json:"ASSIGNED_BY_ID"`
		ContactID  num     `json:"CONTACT_ID"`
		DateModify stamp   `json:"DATE_MODIFY"`
		Phone      []multi `json:"PHONE"`
		IM         []multi `json:"IM"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return store.Lead{}, err
	}
	if v.ID <= 0 {
		return store.Lead{}, fmt.Errorf("no ID")
	}
	closed := v.Semantic == "S" || v.Semantic == "F" || v.StatusID == "CONVERTED" || v.StatusID == "JUNK"
	return store.Lead{ID: int64(v.ID), Title: v.Title, Name: fullName(v.Name, v.SecondName, v.LastName), StatusID: v.StatusID,
		Closed: closed, AssignedByID: int64(v.AssignedBy), ContactID: int64(v.ContactID), DateModify: time.Time(v.DateModify),
		Identities: identities(v.Phone, v.IM)}, nil
}

var dealSelect = []string{"ID", "TITLE", "STAGE_ID", "CATEGORY_ID", "STAGE_SEMANTIC_ID", "CLOSED", "ASSIGNED_BY_ID", "CONTACT_ID", "DATE_MODIFY"}

func parseDeal(raw json.RawMessage) (store.Deal, error) {
	var v struct {
		ID         num    `json:"ID"`
		Title      string `json:"TITLE"`
		StageID    string `json:"STAGE_ID"`
		CategoryID num    `json:"CATEGORY_ID"`
		Semantic   string `json:"STAGE_SEMANTIC_ID"`
		Closed     flag   `json:"CLOSED"`
		AssignedBy num    `json:"ASSIGNED_BY_ID"`
		ContactID  num    `json:"CONTACT_ID"`
		DateModify stamp  `json:"DATE_MODIFY"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return store.Deal{}, err
	}
	if v.ID <= 0 {
		return store.Deal{}, fmt.Errorf("no ID")
	}
	return store.Deal{ID: int64(v.ID), Title: v.Title, StageID: v.StageID, CategoryID: int64(v.CategoryID), StageSemantic: v.Semantic,
		Closed: bool(v.Closed), AssignedByID: int64(v.AssignedBy), ContactID: int64(v.ContactID), DateModify: time.Time(v.DateModify)}, nil
}

func parseUser(raw json.RawMessage) (store.SyncedUser, error) {
	var v struct {
		ID       num    `json:"ID"`
		Name     string `json:"NAME"`
		LastName string `json:"LAST_NAME"`
		Second   string `json:"SECOND_NAME"`
		Email    string `json:"EMAIL"`
		Active   flag   `json:"ACTIVE"`
		UserType string `json:"USER_TYPE"`
		Deps     []num  `json:"UF_DEPARTMENT"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return store.SyncedUser{}, err
	}
	if v.ID <= 0 {
		return store.SyncedUser{}, fmt.Errorf("no ID")
	}
	deps := make([]int64, 0, len(v.Deps))
	for _, d := range v.Deps {
		deps = append(deps, int64(d))
	}
	name := fullName(v.Name, v.LastName)
	if name == "" {
		name = v.Email
	}
	ut := v.UserType
	if ut == "" {
		ut = "employee"
	}
	return store.SyncedUser{ID: int64(v.ID), Name: name, Email: v.Email, Active: bool(v.Active), UserType: ut, Departments: deps}, nil
}

func parseDepartment(raw json.RawMessage) (store.Department, error) {
	var v struct {
		ID     num    `json:"ID"`
		Name   string `json:"NAME"`
		Parent num    `json:"PARENT"`
		Head   num    `json:"UF_HEAD"`
		Sort   num    `json:"SORT"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return store.Department{}, err
	}
	if v.ID <= 0 {
		return store.Department{}, fmt.Errorf("no ID")
	}
	d := store.Department{ID: int64(v.ID), Name: v.Name, Sort: int(v.Sort)}
	d.ParentID.Int64, d.ParentID.Valid = int64(v.Parent), v.Parent > 0
	d.HeadID.Int64, d.HeadID.Valid = int64(v.Head), v.Head > 0
	return d, nil
}

// snippet names a malformed record in a warning without flooding the log.
func snippet(raw json.RawMessage) string {
	s := string(raw)
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}
