package bitrix

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Coalescer sends the REST calls of several jobs of one portal that run at
// once together, in batch requests of up to MaxBatch commands: every
// request counts against the portal's 2 a second, a command in a batch does
// not. Each job keeps its own code (it calls Do, Call or Batch under the
// context Join gave it) and gets its own command's result or error; a
// refused command fails only its caller.
//
// The calls pending are sent once every job is either waiting on a call or
// finished (then nothing more can join them). A job busy elsewhere holds back
// only the jobs after it: after a short window the calls of the jobs before
// the first busy one go, so the group's order (a dialog's messages, oldest
// first) holds; after a longer stall everything pending goes. A lone call
// goes out as a plain request, at once.
type Coalescer struct {
	ctx           context.Context // the group's: requests are sent under it
	window, stall time.Duration
	// slots bounds how many of the group's jobs work at once between their
	// calls (a job waiting on a call holds none): fifty jobs reading the
	// database at once would take the pool from every other portal.
	slots chan struct{}

	mu      sync.Mutex
	state   []partyState
	hasSlot []bool
	queue   []*pending
	seq     int
	timer   *time.Timer
	since   time.Time // when the oldest pending call was queued
}

type partyState uint8

const (
	busy    partyState = iota // working, waiting for a slot, or its call is on its way
	waiting                   // its call is queued
	done                      // it left
)

// coalesceSlots is how many jobs of a group work at once between calls.
const coalesceSlots = 6

// coalesceWindow is how long pending calls wait for the group's other jobs
// before the calls of the jobs ahead of the first busy one go;
// coalesceStall, before all go.
const (
	coalesceWindow = 200 * time.Millisecond
	coalesceStall  = 3 * time.Second
)

// NewCoalescer prepares parties jobs of one portal that run at once under
// ctx (which carries, e.g., WithMaxWait for every request sent).
func NewCoalescer(ctx context.Context, parties int) *Coalescer {
	return &Coalescer{ctx: ctx, state: make([]partyState, parties), hasSlot: make([]bool, parties),
		window: coalesceWindow, stall: coalesceStall, slots: make(chan struct{}, coalesceSlots)}
}

// acquire takes a working slot for job i, unless ctx ends first.
func (co *Coalescer) acquire(ctx context.Context, i int) {
	select {
	case co.slots <- struct{}{}:
		co.mu.Lock()
		co.hasSlot[i] = true
		co.mu.Unlock()
	case <-ctx.Done():
	}
}

// releaseLocked gives job i's slot back, if it holds one.
func (co *Coalescer) releaseLocked(i int) {
	if co.hasSlot[i] {
		co.hasSlot[i] = false
		<-co.slots
	}
}

type coalescerKey struct{}

type party struct {
	co *Coalescer
	i  int
}

// Join is the context job i (its order in the group: calls are sent in the
// jobs' order) runs under; its calls go through the coalescer. It waits for
// a working slot, which the job holds until Leave except while it waits on
// a call.
func (co *Coalescer) Join(ctx context.Context, i int) context.Context {
	co.acquire(ctx, i)
	return context.WithValue(ctx, coalescerKey{}, party{co: co, i: i})
}

// Leave tells the coalescer that job i has finished: it makes no more
// calls, so the others need not wait for it.
func (co *Coalescer) Leave(i int) {
	co.mu.Lock()
	co.releaseLocked(i)
	co.state[i] = done
	batch := co.takeIfAllWaitLocked()
	co.mu.Unlock()
	co.flush(batch)
}

// pending is one caller's call: one command (Do) or its own batch.
type pending struct {
	party, n int
	c        *Client
	cmds     []Command
	single   bool
	done     chan struct{}
	resp     *Response    // single
	res      *BatchResult // batch
	err      error
}

func partyOf(ctx context.Context) (party, bool) {
	p, ok := ctx.Value(coalescerKey{}).(party)
	return p, ok
}

// submit queues p and waits for its answer.
func (co *Coalescer) submit(ctx context.Context, i int, p *pending) error {
	p.party, p.done = i, make(chan struct{})
	co.mu.Lock()
	p.n = co.seq
	co.seq++
	if len(co.queue) == 0 {
		co.since = time.Now()
	}
	co.queue = append(co.queue, p)
	co.state[i] = waiting
	co.releaseLocked(i) // waiting on a call, it works no more
	batch := co.takeIfAllWaitLocked()
	if batch == nil && co.timer == nil {
		co.timer = time.AfterFunc(co.window, co.timeout)
	}
	co.mu.Unlock()
	co.flush(batch)
	select {
	case <-p.done:
		co.acquire(ctx, i)
		return p.err
	case <-ctx.Done():
		co.mu.Lock()
		n := len(co.queue)
		co.queue = slices.DeleteFunc(co.queue, func(q *pending) bool { return q == p })
		if len(co.queue) < n {
			co.state[i] = busy
		}
		co.mu.Unlock()
		return context.Cause(ctx)
	}
}

// takeIfAllWaitLocked takes the queue when no job is busy.
func (co *Coalescer) takeIfAllWaitLocked() []*pending {
	if len(co.queue) == 0 || slices.Contains(co.state, busy) {
		return nil
	}
	return co.takeLocked(len(co.state))
}

// takeLocked takes the pending calls of the jobs before job upto and marks
// those jobs busy (their calls are on their way).
func (co *Coalescer) takeLocked(upto int) []*pending {
	var batch, rest []*pending
	for _, p := range co.queue {
		if p.party < upto {
			batch = append(batch, p)
			co.state[p.party] = busy
		} else {
			rest = append(rest, p)
		}
	}
	co.queue = rest
	if len(batch) > 0 {
		co.since = time.Now() // the stall is counted from the last progress
	}
	if co.timer != nil {
		co.timer.Stop()
		co.timer = nil
	}
	if len(co.queue) > 0 {
		co.timer = time.AfterFunc(co.window, co.timeout)
	}
	return batch
}

// timeout sends what may go after the window: the calls of the jobs before
// the first busy one, or, after a stall, every call pending.
func (co *Coalescer) timeout() {
	co.mu.Lock()
	co.timer = nil
	upto := slices.Index(co.state, busy)
	if upto < 0 || time.Since(co.since) >= co.stall {
		upto = len(co.state)
	}
	batch := co.takeLocked(upto)
	co.mu.Unlock()
	co.flush(batch)
}

// flush sends the calls taken, in the jobs' order, per client (one portal
// has one endpoint; kept apart anyway), in as few requests as fit.
func (co *Coalescer) flush(batch []*pending) {
	if len(batch) == 0 {
		return
	}
	slices.SortFunc(batch, func(a, b *pending) int {
		return cmp.Or(cmp.Compare(a.party, b.party), cmp.Compare(a.n, b.n))
	})
	for len(batch) > 0 {
		ep := batch[0].c.o.Endpoint
		var same, rest []*pending
		for _, p := range batch {
			if p.c.o.Endpoint == ep {
				same = append(same, p)
			} else {
				rest = append(rest, p)
			}
		}
		co.send(same)
		batch = rest
	}
}

// send packs the calls of one client into requests of at most MaxBatch
// commands (a caller's own batch stays in one request) and answers each.
func (co *Coalescer) send(ps []*pending) {
	for len(ps) > 0 {
		n, cmds := 0, 0
		for n < len(ps) && (n == 0 || cmds+len(ps[n].cmds) <= MaxBatch) {
			cmds += len(ps[n].cmds)
			n++
		}
		co.request(ps[:n])
		ps = ps[n:]
	}
}

// request sends one request for ps and answers each caller.
func (co *Coalescer) request(ps []*pending) {
	defer func() {
		for _, p := range ps {
			close(p.done)
		}
	}()
	c := ps[0].c
	if len(ps) == 1 && ps[0].single {
		p := ps[0]
		cmd := p.cmds[0]
		p.resp, p.err = c.do(co.ctx, cmd.Method, cmd.Params, readOnly(cmd.Method))
		return
	}
	var cmds []Command
	for i, p := range ps {
		keys := make(map[string]string, len(p.cmds))
		for j, cmd := range p.cmds {
			keys[cmd.Key] = "c" + strconv.Itoa(i) + "_" + strconv.Itoa(j)
		}
		for _, cmd := range p.cmds {
			cmd.Key, cmd.Raw = keys[cmd.Key], renameRefs(cmd.Raw, keys)
			cmds = append(cmds, cmd)
		}
	}
	if len(cmds) > MaxBatch { // one caller's own batch of MaxBatch and more: as it came
		cmds = nil
	}
	var res *BatchResult
	var err error
	if cmds != nil {
		res, err = c.batch(co.ctx, cmds, false)
	}
	for i, p := range ps {
		switch {
		case cmds == nil:
			p.res, p.err = c.batch(co.ctx, p.cmds, false)
		case err != nil:
			p.err = err
		case p.single:
			k := "c" + strconv.Itoa(i) + "_0"
			if e, failed := res.Errors[k]; failed {
				p.err = e
				continue
			}
			p.resp = &Response{Result: resultOf(res, k)}
			if t, ok := res.Total[k]; ok {
				p.resp.Total = &t
			}
			if nx, ok := res.Next[k]; ok {
				p.resp.Next = &nx
			}
		default:
			p.res = &BatchResult{Result: map[string]json.RawMessage{}, Errors: map[string]*Error{}, Total: map[string]int{}, Next: map[string]int{}}
			for j, cmd := range p.cmds {
				k := "c" + strconv.Itoa(i) + "_" + strconv.Itoa(j)
				if e, failed := res.Errors[k]; failed {
					p.res.Errors[cmd.Key] = e
					continue
				}
				p.res.Result[cmd.Key] = resultOf(res, k)
				if t, ok := res.Total[k]; ok {
					p.res.Total[cmd.Key] = t
				}
				if nx, ok := res.Next[k]; ok {
					p.res.Next[cmd.Key] = nx
				}
			}
		}
	}
}

// resultOf is a command's result; a command that answered nothing at all
// (neither result nor error) reads as null.
func resultOf(res *BatchResult, k string) json.RawMessage {
	if r, ok := res.Result[k]; ok {
		return r
	}
	return json.RawMessage("null")
}

// renameRefs points a command's $result references (and $result_next,
// $result_total, $result_error) at the keys its batch's commands have in
// the shared request.
func renameRefs(raw string, keys map[string]string) string {
	if raw == "" {
		return raw
	}
	for old, key := range keys {
		for _, ref := range []string{"$result[", "$result_next[", "$result_total[", "$result_error["} {
			raw = strings.ReplaceAll(raw, ref+old+"]", ref+key+"]")
		}
	}
	return raw
}
