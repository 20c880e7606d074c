package dag_test

import (
	"errors"
	"strconv"
	"testing"

	"github.com/tasker-go/tasker/internal/dag"
)

// decodeNodes turns fuzz bytes into a small node list: the first byte
// gives the node count, then each node takes a name byte (from a small
// alphabet, so duplicates happen), a dependency count and dependency bytes.
func decodeNodes(data []byte) []dag.Node {
	next := func() (byte, bool) {
		if len(data) == 0 {
			return 0, false
		}
		b := data[0]
		data = data[1:]
		return b, true
	}
	name := func(b byte) string {
		if b%17 == 16 {
			return ""
		}
		return "s" + strconv.Itoa(int(b%17))
	}
	count, ok := next()
	if !ok {
		return nil
	}
	nodes := make([]dag.Node, 0, count%12)
	for range int(count % 12) {
		nb, ok := next()
		if !ok {
			break
		}
		nd := dag.Node{Name: name(nb)}
		dc, _ := next()
		for range int(dc % 4) {
			db, ok := next()
			if !ok {
				break
			}
			nd.DependsOn = append(nd.DependsOn, name(db))
		}
		nodes = append(nodes, nd)
	}
	return nodes
}

func FuzzNew(f *testing.F) {
	f.Add([]byte{3, 0, 0, 1, 1, 0, 2, 1, 1})
	f.Add([]byte{3, 0, 1, 2, 1, 1, 0, 2, 1, 1})
	f.Add([]byte{2, 0, 1, 0})
	f.Add([]byte{5, 4, 0, 3, 1, 4, 2, 2, 3, 1, 4, 1, 1, 2, 2, 3, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		nodes := decodeNodes(data)
		g, err := dag.New(nodes)
		a := dag.Analyze(nodes) // must not panic either
		if err == nil {
			order := g.TopologicalOrder()
			if len(order) != len(nodes) {
				t.Fatalf("order %v has %d steps, want %d", order, len(order), len(nodes))
			}
			pos := make(map[string]int, len(order))
			for i, name := range order {
				if _, dup := pos[name]; dup {
					t.Fatalf("order %v repeats %q", order, name)
				}
				pos[name] = i
			}
			for _, nd := range nodes {
				for _, d := range nd.DependsOn {
					if pos[d] >= pos[nd.Name] {
						t.Fatalf("order %v puts %q before its parent %q", order, nd.Name, d)
					}
				}
			}
			for i := range g.Len() {
				for _, p := range g.Parents(i) {
					if g.LevelOf(i) <= g.LevelOf(p) {
						t.Fatalf("level of %q not above its parent %q", g.Name(i), g.Name(p))
					}
				}
			}
			if a.Summary.HasCycles || len(a.Topology) != len(order) {
				t.Fatalf("Analyze disagrees with New: %+v", a.Summary)
			}
			return
		}
		var cyc *dag.CycleError
		if errors.As(err, &cyc) {
			p := cyc.Path
			if len(p) < 3 || p[0] != p[len(p)-1] {
				t.Fatalf("cycle path %v does not return to its start", p)
			}
			deps := map[string]map[string]bool{}
			for _, nd := range nodes {
				deps[nd.Name] = map[string]bool{}
				for _, d := range nd.DependsOn {
					deps[nd.Name][d] = true
				}
			}
			for k := 0; k+1 < len(p); k++ {
				if !deps[p[k+1]][p[k]] {
					t.Fatalf("cycle %v: %q does not depend on %q", p, p[k+1], p[k])
				}
			}
			if !a.Summary.HasCycles || len(a.Topology) != 0 {
				t.Fatalf("Analyze missed the cycle %v", p)
			}
		}
	})
}
