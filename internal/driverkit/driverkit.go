package driverkit

import (
	"cmp"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tasker-go/tasker/taskertype"
)

// Migration is one embedded schema migration.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations reads dir of fsys: files named NNN_description.sql, returned
// sorted by version. Duplicate versions are an error.
func Migrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		if !ok || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration %s: name must be NNN_description.sql", e.Name())
		}
		v, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", e.Name(), err)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s have the same version %d", prev, e.Name(), v)
		}
		seen[v] = e.Name()
		body, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: e.Name(), SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// LinkEdges fills the ParentIDs and ChildIDs of steps from edges given as
// (parent, child) pairs; edges touching other steps only fill the side that
// is present.
func LinkEdges(steps []*taskertype.Step, edges [][2]int64) {
	byID := make(map[int64]*taskertype.Step, len(steps))
	for _, s := range steps {
		byID[s.ID] = s
	}
	for _, ed := range edges {
		if s := byID[ed[0]]; s != nil {
			s.ChildIDs = append(s.ChildIDs, ed[1])
		}
		if s := byID[ed[1]]; s != nil {
			s.ParentIDs = append(s.ParentIDs, ed[0])
		}
	}
}

// LinkNewEdges is LinkEdges for the edges of a task just created, in any
// order: it sorts them by parent, then child, first, the order in which
// StepList links a task's edges (it sorts edges in place).
func LinkNewEdges(steps []*taskertype.Step, edges [][2]int64) {
	slices.SortFunc(edges, func(a, b [2]int64) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
	LinkEdges(steps, edges)
}

// Earliest returns the earlier of two times, ignoring zero times.
func Earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	default:
		return b
	}
}

// Queues is the set of step queues a claim or wake-up query looks at: the
// given remote queues, or the empty queue of in-process steps when none is
// given.
func Queues(queues []string) []string {
	if len(queues) == 0 {
		return []string{""}
	}
	return queues
}
