package bitrix

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strconv"
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
// finished (then nothing more can join them), or after a short window, so
// a job busy elsewhere delays the others by no more than that. A lone call
// goes out as a plain request, at once.
type Coalescer struct {
	ctx    context.Context // the group's: requests are sent under it
	window time.Duration

	mu      sync.Mutex
	running int // parties not finished
	queue   []*pending
	seq     int
	timer   *time.Timer
}

// coalesceWindow bounds how long a pending call waits for the group's other
// jobs to reach their calls.
const coalesceWindow = 200 * time.Millisecond

// NewCoalescer prepares parties jobs of one portal that run at once under
// ctx (which carries, e.g., WithMaxWait for every request sent).
func NewCoalescer(ctx context.Context, parties int) *Coalescer {
	return &Coalescer{ctx: ctx, running: parties, window: coalesceWindow}
}

type coalescerKey struct{}

type party struct {
	co *Coalescer
	i  int
}

// Join is the context job i (its order in the group: calls are sent in the
// jobs' order) runs under; its calls go through the coalescer.
func (co *Coalescer) Join(ctx context.Context, i int) context.Context {
	return context.WithValue(ctx, coalescerKey{}, party{co: co, i: i})
}

// Leave tells the coalescer that one job has finished: it makes no more
// calls, so the others need not wait for it.
func (co *Coalescer) Leave() {
	co.mu.Lock()
	co.running--
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
	co.queue = append(co.queue, p)
	batch := co.takeIfAllWaitLocked()
	if batch == nil && co.timer == nil {
		co.timer = time.AfterFunc(co.window, co.timeout)
	}
	co.mu.Unlock()
	co.flush(batch)
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		co.mu.Lock()
		co.queue = slices.DeleteFunc(co.queue, func(q *pending) bool { return q == p })
		co.mu.Unlock()
		return context.Cause(ctx)
	}
}

// takeIfAllWaitLocked takes the queue when every running job waits in it.
func (co *Coalescer) takeIfAllWaitLocked() []*pending {
	if len(co.queue) == 0 || len(co.queue) < co.running {
		return nil
	}
	return co.takeLocked()
}

func (co *Coalescer) takeLocked() []*pending {
	batch := co.queue
	co.queue = nil
	if co.timer != nil {
		co.timer.Stop()
		co.timer = nil
	}
	return batch
}

func (co *Coalescer) timeout() {
	co.mu.Lock()
	batch := co.takeLocked()
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
		for j, cmd := range p.cmds {
			cmd.Key = "c" + strconv.Itoa(i) + "_" + strconv.Itoa(j)
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
