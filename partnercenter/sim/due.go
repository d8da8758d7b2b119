package sim

import (
	"container/heap"
	"time"

	pc "github.com/partnerflow/partnerflow/partnercenter"
)

// dueQueue is a min-heap of GDAP relationships by dueAt: the next instant at
// which the webhook scanner may owe an event for them (see nextDue). A tick
// of the scanner pops only the relationships due by then, so relationships
// whose status will not give an event soon (waiting for the customer's
// approval, active with an end months away) cost it nothing. Each
// relationship is in it at most once; dueSlot finds it for heap.Fix.
type dueQueue []*gdapRecord

func (q dueQueue) Len() int           { return len(q) }
func (q dueQueue) Less(i, j int) bool { return q[i].dueAt.Before(q[j].dueAt) }

func (q dueQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].dueSlot, q[j].dueSlot = i+1, j+1
}

// Push is for container/heap; use set.
func (q *dueQueue) Push(x any) {
	g := x.(*gdapRecord)
	g.dueSlot = len(*q) + 1
	*q = append(*q, g)
}

// Pop is for container/heap; use set.
func (q *dueQueue) Pop() any {
	old := *q
	g := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	g.dueSlot = 0
	return g
}

// set makes at the instant g is due, adding g to the queue or moving it; with
// ok false it takes g out.
func (q *dueQueue) set(g *gdapRecord, at time.Time, ok bool) {
	switch {
	case !ok:
		if g.dueSlot > 0 {
			heap.Remove(q, g.dueSlot-1)
		}
	case g.dueSlot > 0:
		g.dueAt = at
		heap.Fix(q, g.dueSlot-1)
	default:
		g.dueAt = at
		heap.Push(q, g)
	}
}

// nextDue is the first instant after `after` at which g's time-derived
// status gives an event not delivered yet: the end of the approval window of
// a pending request (expired), the activation of an approved relationship
// (activated, which only active gives), the instant one that does not extend
// itself is expired, delay after its end (expired; expiring, in between,
// gives no event), the end of a termination (terminated), or the
// activation of one of its access assignments. Between two such instants the
// scanner would find nothing new for g, so it need not look; ok is false when
// nothing is left to come. Changes made by calls reach the scanner through
// mark, never through the passing of time.
func (g *gdapRecord) nextDue(after time.Time, delay time.Duration) (next time.Time, ok bool) {
	consider := func(at time.Time, owed bool) {
		if owed && at.After(after) && (!ok || at.Before(next)) {
			next, ok = at, true
		}
	}
	switch g.Phase {
	case pc.GDAPStatusApprovalPending:
		consider(g.LockedAt.Add(gdapApprovalWindow), !g.Notified[pc.EventGDAPExpired])
	case pc.GDAPStatusApproved:
		activated := g.ApprovedAt.Add(delay)
		consider(activated, !g.Notified[pc.EventGDAPActivated])
		if !extends(g.AutoExtend) {
			dur, _ := parseISODuration(g.Duration)
			consider(activated.Add(dur).Add(delay), !g.Notified[pc.EventGDAPExpired])
		}
	case pc.GDAPStatusTerminationRequested:
		consider(g.TerminationAt.Add(delay), !g.Notified[pc.EventGDAPTerminated])
	}
	for _, a := range g.Assignments {
		consider(a.CreatedAt.Add(delay), !a.Notified)
	}
	return next, ok
}
