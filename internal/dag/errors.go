package dag

import (
	"errors"
	"strconv"
	"strings"

	"github.com/tasker-go/tasker/internal/names"
)

// ErrInvalidGraph is wrapped by every validation error that New returns, so
// callers can test for "the template's dependencies are invalid" with
// errors.Is and still use errors.As for the details.
var ErrInvalidGraph = errors.New("invalid dependency graph")

// invalidGraph, embedded in each validation error, makes it wrap
// ErrInvalidGraph.
type invalidGraph struct{}

// Unwrap returns ErrInvalidGraph.
func (invalidGraph) Unwrap() error { return ErrInvalidGraph }

// EmptyNameError reports a step without a name.
type EmptyNameError struct {
	invalidGraph
	// Index is the 0-based position of the step in the declaration order.
	Index int
}

// Error returns the message, which says how to fix the problem.
func (e *EmptyNameError) Error() string {
	return "step at index " + strconv.Itoa(e.Index) +
		" has an empty name; give every step a unique, non-empty name"
}

// DuplicateStepError reports a step name that is declared more than once.
type DuplicateStepError struct {
	invalidGraph
	// Name is the step name that appears twice.
	Name string
}

// Error returns the message, which says how to fix the problem.
func (e *DuplicateStepError) Error() string {
	return "step " + strconv.Quote(e.Name) +
		" is declared twice; step names must be unique within a template: rename one of them"
}

// SelfDependencyError reports a step that lists itself as a dependency.
type SelfDependencyError struct {
	invalidGraph
	// Step is the name of the step that depends on itself.
	Step string
}

// Error returns the message, which says how to fix the problem.
func (e *SelfDependencyError) Error() string {
	q := strconv.Quote(e.Step)
	return "step " + q + " depends on itself; remove " + q + " from its own dependencies"
}

// UnknownDependencyError reports a dependency on a step name that the
// template does not declare.
type UnknownDependencyError struct {
	invalidGraph
	// Step is the step whose dependency list is wrong.
	Step string
	// Dependency is the name that is not declared.
	Dependency string
	// Known lists the declared step names in declaration order; it is used
	// to suggest the closest name.
	Known []string
}

// Error returns the message, which says how to fix the problem.
func (e *UnknownDependencyError) Error() string {
	var b strings.Builder
	b.WriteString("step ")
	b.WriteString(strconv.Quote(e.Step))
	b.WriteString(" depends on unknown step ")
	b.WriteString(strconv.Quote(e.Dependency))
	if s := e.Suggestion(); s != "" {
		b.WriteString("; did you mean ")
		b.WriteString(strconv.Quote(s))
		b.WriteString("?")
	} else {
		b.WriteString("; declare a step with that name or remove it from the dependencies of ")
		b.WriteString(strconv.Quote(e.Step))
	}
	return b.String()
}

// Suggestion returns the known step name closest to Dependency by edit
// distance (Levenshtein), or "" when no name is close. A name is close when
// its distance is at most 1+len(Dependency)/4 and smaller than
// len(Dependency); ties go to the name declared first.
func (e *UnknownDependencyError) Suggestion() string {
	limit := 1 + len(e.Dependency)/4
	if limit >= len(e.Dependency) {
		limit = len(e.Dependency) - 1
	}
	best, bestD := "", limit+1
	for _, k := range e.Known {
		if k == e.Dependency {
			continue
		}
		if d := names.Distance(e.Dependency, k, bestD); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// CycleError reports a dependency cycle.
type CycleError struct {
	invalidGraph
	// Path is the cycle in dependency direction (parent first): it starts
	// and ends with the same step, e.g. [a b c a] means b depends on a, c on
	// b and a on c.
	Path []string
}

// Error returns the message, which says how to fix the problem.
func (e *CycleError) Error() string {
	return "dependency cycle: " + strings.Join(e.Path, " -> ") +
		"; remove one of these dependencies"
}
