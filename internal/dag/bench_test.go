package dag_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/tasker-go/tasker/internal/dag"
	"github.com/tasker-go/tasker/taskertype"
)

// layered1000 builds a deterministic layered DAG of 1,000 steps: 20 roots,
// then every step depends on 1–3 distinct steps from the previous 50.
func layered1000() []dag.Node {
	const n = 1000
	nodes := make([]dag.Node, n)
	seed := uint32(12345)
	rnd := func(k int) int {
		seed = seed*1664525 + 1013904223 // LCG, deterministic
		return int(seed>>8) % k
	}
	for i := range nodes {
		nodes[i].Name = "process_step_" + strconv.Itoa(i)
		if i < 20 {
			continue
		}
		for range 1 + rnd(3) {
			p := i - 1 - rnd(min(i, 50))
			nodes[i].DependsOn = append(nodes[i].DependsOn, nodes[p].Name)
		}
	}
	return nodes
}

// halfDone marks the first half of the steps complete and the rest pending.
func halfDone(n int) []dag.StepStatus {
	steps := make([]dag.StepStatus, n)
	for i := range steps {
		steps[i] = dag.StepStatus{State: taskertype.StatePending, RetryLimit: 3, Retryable: true}
		if i < n/2 {
			steps[i].State = taskertype.StateComplete
			steps[i].Attempts = 1
		}
	}
	return steps
}

func BenchmarkNewAndReady1000(b *testing.B) {
	nodes := layered1000()
	steps := halfDone(len(nodes))
	now := time.Now()
	dst := make([]int, 0, len(nodes))
	b.ReportAllocs()
	for b.Loop() {
		g, err := dag.New(nodes)
		if err != nil {
			b.Fatal(err)
		}
		dst = g.Ready(steps, now, dst[:0])
	}
	if len(dst) == 0 {
		b.Fatal("no ready steps")
	}
}

func BenchmarkNew1000(b *testing.B) {
	nodes := layered1000()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dag.New(nodes); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReady1000(b *testing.B) {
	nodes := layered1000()
	g, err := dag.New(nodes)
	if err != nil {
		b.Fatal(err)
	}
	steps := halfDone(len(nodes))
	now := time.Now()
	dst := make([]int, 0, len(nodes))
	b.ReportAllocs()
	for b.Loop() {
		dst = g.Ready(steps, now, dst[:0])
	}
}

// BenchmarkNewReversed1000 declares children before parents, which takes
// the Kahn path instead of the single forward pass.
func BenchmarkNewReversed1000(b *testing.B) {
	nodes := layered1000()
	for i, j := 0, len(nodes)-1; i < j; i, j = i+1, j-1 {
		nodes[i], nodes[j] = nodes[j], nodes[i]
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dag.New(nodes); err != nil {
			b.Fatal(err)
		}
	}
}
