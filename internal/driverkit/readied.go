package driverkit

import "github.com/tasker-go/tasker/taskertype"

// Readied holds the steps a transaction made ready (their last parent
// finished) and that it has not claimed itself. The steps-ready
// notification is owed at commit only while it is not empty: a worker pass
// that records a result and, in the same transaction, claims the children
// it readied wakes nobody, itself included (a wake-up would only find them
// claimed). Retries and steps made pending otherwise notify as before.
type Readied map[int64]struct{}

// Add records steps made ready.
func (r *Readied) Add(ids ...int64) {
	if len(ids) == 0 {
		return
	}
	if *r == nil {
		*r = make(Readied, len(ids))
	}
	for _, id := range ids {
		(*r)[id] = struct{}{}
	}
}

// Claimed removes the steps the transaction claimed.
func (r Readied) Claimed(ids []int64) {
	for _, id := range ids {
		delete(r, id)
	}
}

// Owed reports whether a readied step is left unclaimed, which the
// transaction must then notify at commit.
func (r Readied) Owed() bool { return len(r) > 0 }

// ReadiedBy counts, from (parent, child) pairs of children made ready,
// how many children each parent readied, and lists the children once each.
func ReadiedBy(pairs [][2]int64) (perParent map[int64]int, children []int64) {
	perParent = make(map[int64]int, len(pairs))
	seen := make(map[int64]bool, len(pairs))
	for _, p := range pairs {
		perParent[p[0]]++
		if !seen[p[1]] {
			seen[p[1]] = true
			children = append(children, p[1])
		}
	}
	return perParent, children
}

// ReadyRoots returns the ids of the steps of a new task that are ready at
// once: those without parents.
func ReadyRoots(steps []*taskertype.Step) []int64 {
	var ids []int64
	for _, s := range steps {
		if s.PendingParents == 0 {
			ids = append(ids, s.ID)
		}
	}
	return ids
}
