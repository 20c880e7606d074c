package dag

import (
	"strconv"
	"strings"
)

// MermaidOptions decorates the diagram that Graph.Mermaid draws. The zero
// value draws the bare graph.
type MermaidOptions struct {
	// States maps step names to their current state (e.g. "complete"). A
	// step with a state shows it under its name and gets the CSS class
	// named after the state; the known states of taskertype get a colour.
	// Default: no states.
	States map[string]string
	// Attempts maps step names to the number of attempts made so far;
	// a positive count is shown in the node label. Default: none.
	Attempts map[string]int
}

// mermaidReserved lists words that cannot be used as Mermaid node ids.
var mermaidReserved = map[string]bool{
	"end": true, "graph": true, "flowchart": true, "subgraph": true, "style": true,
	"class": true, "classdef": true, "click": true, "linkstyle": true, "direction": true,
	"call": true, "href": true, "default": true,
}

// mermaidStyles are the classDef lines of the known states, in a stable order.
var mermaidStyles = []struct{ state, style string }{
	{"pending", "fill:#f4f4f4,stroke:#999"},
	{"in_progress", "fill:#cfe2ff,stroke:#0d6efd"},
	{"complete", "fill:#d1e7dd,stroke:#198754"},
	{"error", "fill:#f8d7da,stroke:#dc3545"},
	{"cancelled", "fill:#e2e3e5,stroke:#6c757d"},
	{"resolved_manually", "fill:#fff3cd,stroke:#ffc107"},
}

// Mermaid returns a Mermaid flowchart ("graph TD") of the graph: one node
// line per step in declaration order, then one "a --> b" edge per
// dependency (parent to child), then the class definitions of the states
// in use. Node ids are the step names with every character outside
// [A-Za-z0-9_] replaced by "_" (prefixed with "step_" when empty, starting
// with a digit or a Mermaid keyword such as "end", and suffixed with "_2",
// "_3", ... when two names collide); the label is always the original name.
func (g *Graph) Mermaid(opts MermaidOptions) string {
	ids := make([]string, len(g.names))
	used := make(map[string]bool, len(g.names))
	for i, name := range g.names {
		id := sanitizeID(name)
		if used[id] {
			for k := 2; ; k++ {
				if cand := id + "_" + strconv.Itoa(k); !used[cand] {
					id = cand
					break
				}
			}
		}
		used[id] = true
		ids[i] = id
	}

	var b strings.Builder
	b.WriteString("graph TD\n")
	usedStates := map[string]bool{}
	for i, name := range g.names {
		b.WriteString("    ")
		b.WriteString(ids[i])
		b.WriteString(`["`)
		b.WriteString(mermaidLabel(name))
		state, hasState := opts.States[name]
		if hasState && state != "" {
			b.WriteString("<br/>")
			b.WriteString(mermaidLabel(state))
		}
		if a := opts.Attempts[name]; a > 0 {
			b.WriteString("<br/>attempts: ")
			b.WriteString(strconv.Itoa(a))
		}
		b.WriteString(`"]`)
		if hasState && state != "" {
			class := sanitizeClass(state)
			b.WriteString(":::")
			b.WriteString(class)
			usedStates[class] = true
		}
		b.WriteByte('\n')
	}
	for i := range g.names {
		for _, c := range g.Children(i) {
			b.WriteString("    ")
			b.WriteString(ids[i])
			b.WriteString(" --> ")
			b.WriteString(ids[c])
			b.WriteByte('\n')
		}
	}
	for _, s := range mermaidStyles {
		if usedStates[s.state] {
			b.WriteString("    classDef ")
			b.WriteString(s.state)
			b.WriteByte(' ')
			b.WriteString(s.style)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// sanitizeID turns a step name into a Mermaid-safe identifier.
func sanitizeID(name string) string {
	id := replaceUnsafe(name)
	if id == "" || (id[0] >= '0' && id[0] <= '9') || mermaidReserved[strings.ToLower(id)] {
		id = "step_" + id
	}
	return id
}

// sanitizeClass turns a state into a Mermaid-safe CSS class name.
func sanitizeClass(state string) string {
	c := replaceUnsafe(state)
	if (c[0] >= '0' && c[0] <= '9') || mermaidReserved[strings.ToLower(c)] {
		c = "state_" + c
	}
	return c
}

// replaceUnsafe replaces every byte outside [A-Za-z0-9_] with "_" (one
// "_" per rune).
func replaceUnsafe(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// mermaidLabelEscaper escapes text for a double-quoted Mermaid label using
// Mermaid's entity codes.
var mermaidLabelEscaper = strings.NewReplacer(
	`"`, "#quot;",
	"<", "#lt;",
	">", "#gt;",
	"#", "#35;",
	"\n", " ",
	"\r", " ",
)

// mermaidLabel escapes text for a double-quoted Mermaid label.
func mermaidLabel(s string) string { return mermaidLabelEscaper.Replace(s) }
