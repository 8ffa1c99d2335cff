package b24test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"time"
)

var (
	seedMaleFirst   = []string{"Иван", "Алексей", "Дмитрий", "Сергей", "Андрей", "Михаил", "Николай", "Павел", "Артём", "Максим", "Егор", "Кирилл"}
	seedFemaleFirst = []string{"Анна", "Мария", "Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Екатерина", "Светлана", "Юлия", "Дарья", "Полина"}
	seedLast        = []string{"Иванов", "Петров", "Смирнов", "Кузнецов", "Попов", "Васильев", "Соколов", "Михайлов", "Новиков", "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров"}
	seedPatronymic  = []string{"Иванович", "Петрович", "Сергеевич", "Алексеевич", "Дмитриевич", "Андреевич"}
	seedDealTitles  = []string{"Заказ", "Поставка", "Консультация", "Подписка", "Доставка", "Сделка"}
)

// seedPhone renders the i-th unique Russian mobile number in one of the
// spellings people type, so that clients must normalize before matching.
func seedPhone(i int) string {
	n := (int64(i)*104729 + 123456789) % 1_000_000_000 // bijective for i < 1e9
	var buf [10]byte                                   // 10 digits, 9xx xxx xx xx
	buf[0] = '9'
	for k := 9; k >= 1; k-- {
		buf[k] = byte('0' + n%10)
		n /= 10
	}
	d := string(buf[:])
	a, b, c, e := d[0:3], d[3:6], d[6:8], d[8:10]
	switch i % 6 {
	case 0:
		return "+7 (" + a + ") " + b + "-" + c + "-" + e
	case 1:
		return "8" + d
	case 2:
		return "+7" + d
	case 3:
		return "8 (" + a + ") " + b + "-" + c + "-" + e
	case 4:
		return "+7 " + a + " " + b + " " + c + " " + e
	default:
		return "7-" + a + "-" + b + "-" + c + "-" + e
	}
}

// SeedCRM bulk-creates contacts and deals: Russian names, unique mobile
// phones in mixed spellings, some e-mails and Telegram accounts, deals in
// the pipelines' stages linked to existing contacts, timestamps spread over
// the past and increasing with the id. The result is deterministic for a
// given portal state. 100 000 + 100 000 records take well under a second.
func (p *Portal) SeedCRM(contacts, deals int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	rng := rand.New(rand.NewPCG(uint64(p.contacts.next), uint64(p.deals.next)))
	now := p.o.Now()

	var assignees []int
	for id, u := range p.users {
		if u.Active && u.UserType == "employee" {
			assignees = append(assignees, id)
		}
	}
	sort.Ints(assignees)
	if len(assignees) == 0 {
		assignees = []int{1}
	}

	p.reserve(contacts, deals)
	base := now.Add(-time.Duration(contacts+1) * time.Minute)
	for i := 0; i < contacts; i++ {
		id := p.contacts.next
		female := rng.IntN(2) == 0
		first := seedMaleFirst[rng.IntN(len(seedMaleFirst))]
		last := seedLast[rng.IntN(len(seedLast))]
		second := seedPatronymic[rng.IntN(len(seedPatronymic))]
		if female {
			first = seedFemaleFirst[rng.IntN(len(seedFemaleFirst))]
			last += "а"
			second = second[:len(second)-len("ич")] + "на"
		}
		valueType := "MOBILE"
		if i%4 == 3 {
			valueType = "WORK"
		}
		c := Contact{
			ID: id, Name: first, LastName: last, AssignedByID: assignees[rng.IntN(len(assignees))],
			Phones: []Multi{{ValueType: valueType, Value: seedPhone(id)}},
		}
		if rng.IntN(5) == 0 {
			c.SecondName = second
		}
		if i%3 == 0 {
			c.Emails = []Multi{{ValueType: "WORK", Value: fmt.Sprintf("client%d@example.ru", id)}}
		}
		if i%10 == 0 {
			c.IMs = []Multi{{ValueType: "TELEGRAM", Value: fmt.Sprintf("tg_client%d", id)}}
		}
		c.DateCreate = base.Add(time.Duration(i) * time.Minute)
		c.DateModify = c.DateCreate.Add(time.Duration(rng.IntN(60)) * time.Second)
		p.insertContact(&contactRec{Contact: c, createdBy: c.AssignedByID, modifyBy: c.AssignedByID}, c.AssignedByID)
	}

	ids := p.contacts.ids
	base = now.Add(-time.Duration(deals+1) * time.Minute)
	for i := 0; i < deals; i++ {
		id := p.deals.next
		cat := p.categories[rng.IntN(len(p.categories))].ID
		var stage string
		switch r := rng.IntN(100); {
		case r < 55:
			stage = "NEW"
		case r < 70:
			stage = "PREPARATION"
		case r < 80:
			stage = "EXECUTING"
		case r < 92:
			stage = "WON"
		default:
			stage = "LOSE"
		}
		d := Deal{
			ID: id, Title: fmt.Sprintf("%s #%d", seedDealTitles[rng.IntN(len(seedDealTitles))], id),
			CategoryID: cat, StageID: stagePrefix(cat) + stage,
			AssignedByID: assignees[rng.IntN(len(assignees))],
		}
		if len(ids) > 0 {
			d.ContactIDs = []int{ids[rng.IntN(len(ids))]}
			if rng.IntN(10) == 0 {
				if second := ids[rng.IntN(len(ids))]; second != d.ContactIDs[0] {
					d.ContactIDs = append(d.ContactIDs, second)
				}
			}
		}
		d.DateCreate = base.Add(time.Duration(i) * time.Minute)
		d.DateModify = d.DateCreate.Add(time.Duration(rng.IntN(60)) * time.Second)
		opportunity := fmt.Sprintf("%d.00", (rng.IntN(500)+1)*1000)
		p.insertDeal(&dealRec{Deal: d, extra: map[string]any{"OPPORTUNITY": opportunity}, createdBy: d.AssignedByID, modifyBy: d.AssignedByID, movedBy: d.AssignedByID}, d.AssignedByID)
	}
}

// reserve grows tables and indexes once for a bulk load instead of letting
// them grow (and rehash) record by record.
func (p *Portal) reserve(contacts, deals int) {
	p.contacts.ids = slices.Grow(p.contacts.ids, contacts)
	p.contacts.recs = slices.Grow(p.contacts.recs, contacts)
	p.deals.ids = slices.Grow(p.deals.ids, deals)
	p.deals.recs = slices.Grow(p.deals.recs, deals)
	if contacts > len(p.phoneIdx) {
		idx := make(commIndex, len(p.phoneIdx)+contacts)
		maps.Copy(idx, p.phoneIdx)
		p.phoneIdx = idx
		eidx := make(commIndex, len(p.emailIdx)+contacts/3)
		maps.Copy(eidx, p.emailIdx)
		p.emailIdx = eidx
	}
	if deals > len(p.dealsByCt) {
		idx := make(map[int][]int, len(p.dealsByCt)+min(deals, contacts+p.contacts.len()))
		maps.Copy(idx, p.dealsByCt)
		p.dealsByCt = idx
	}
}
