package apiview

import (
	"fmt"
	"html"
	"strings"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/dag"
	"github.com/tasker-go/tasker/taskertype"
)

// DiagramNode is one step of a Diagram.
type DiagramNode struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	Status     string `json:"status"`
	Attempts   int    `json:"attempts"`
	RetryLimit int    `json:"retry_limit"`
	Level      int    `json:"level"`
	Error      string `json:"error,omitempty"`
}

// DiagramEdge is one parent-to-child dependency of a Diagram.
type DiagramEdge struct {
	From int64 `json:"from"`
	To   int64 `json:"to"`
}

// Diagram is the diagram of a task: its steps as nodes laid out by level
// and their dependencies as edges, rendered as JSON (JSON), Mermaid, SVG or
// an HTML page.
type Diagram struct {
	task  *tasker.Task
	steps []*tasker.Step
	graph *dag.Graph // nil if the steps do not form a valid graph
	nodes []DiagramNode
	edges []DiagramEdge
}

// DiagramJSON is the JSON view of a Diagram. Its members are in
// alphabetical order, as the REST answer has always had them.
type DiagramJSON struct {
	Edges    []DiagramEdge    `json:"edges"`
	FullName string           `json:"full_name"`
	Name     string           `json:"name"`
	Nodes    []DiagramNode    `json:"nodes"`
	Status   taskertype.State `json:"status"`
	TaskID   int64            `json:"task_id"`
}

// JSON returns the JSON view of d.
func (d *Diagram) JSON() *DiagramJSON {
	return &DiagramJSON{Edges: d.edges, FullName: d.task.FullName(), Name: d.task.Name, Nodes: d.nodes, Status: d.task.State, TaskID: d.task.ID}
}

// NewDiagram returns the diagram of task and its steps.
func NewDiagram(task *tasker.Task, steps []*tasker.Step) *Diagram {
	d := &Diagram{task: task, steps: steps, nodes: []DiagramNode{}, edges: []DiagramEdge{}}
	if g, err := dag.New(stepNodes(steps)); err == nil {
		d.graph = g
	}
	known := make(map[int64]bool, len(steps))
	for _, st := range steps {
		known[st.ID] = true
	}
	levels := d.levels()
	for i, st := range steps {
		n := DiagramNode{ID: st.ID, Name: st.Name, Status: string(st.State), Attempts: st.Attempts, RetryLimit: st.RetryLimit, Level: levels[i]}
		if st.LastError != nil && st.State == tasker.StateError {
			n.Error = st.LastError.Message
		}
		d.nodes = append(d.nodes, n)
		for _, p := range st.ParentIDs {
			if known[p] {
				d.edges = append(d.edges, DiagramEdge{From: p, To: st.ID})
			}
		}
	}
	return d
}

// levels returns each step's level (0 for roots), by step index.
func (d *Diagram) levels() []int {
	out := make([]int, len(d.steps))
	if d.graph != nil {
		for i := range d.steps {
			out[i] = d.graph.LevelOf(i)
		}
		return out
	}
	a := dag.Analyze(stepNodes(d.steps))
	for i, st := range d.steps {
		out[i] = a.Levels[st.Name]
	}
	return out
}

// Mermaid returns d as a Mermaid flowchart, coloured by state.
func (d *Diagram) Mermaid() string {
	states := make(map[string]string, len(d.steps))
	attempts := make(map[string]int, len(d.steps))
	for _, st := range d.steps {
		states[st.Name] = string(st.State)
		attempts[st.Name] = st.Attempts
	}
	if d.graph != nil {
		return d.graph.Mermaid(dag.MermaidOptions{States: states, Attempts: attempts})
	}
	// Not a valid graph (should not happen for a persisted task): list the
	// steps without edges.
	var b strings.Builder
	b.WriteString("graph TD\n")
	for i, st := range d.steps {
		fmt.Fprintf(&b, "    s%d[\"%s<br/>%s\"]\n", i, strings.ReplaceAll(st.Name, `"`, "#quot;"), st.State)
	}
	return b.String()
}

// stateColours are the fill and stroke of each state (as in the Mermaid
// classDefs).
var stateColours = map[string][2]string{
	"pending":           {"#f4f4f4", "#999999"},
	"in_progress":       {"#cfe2ff", "#0d6efd"},
	"complete":          {"#d1e7dd", "#198754"},
	"error":             {"#f8d7da", "#dc3545"},
	"cancelled":         {"#e2e3e5", "#6c757d"},
	"resolved_manually": {"#fff3cd", "#ffc107"},
}

const (
	boxW, boxH = 200, 64
	gapX, gapY = 40, 60
	margin     = 20
	titleH     = 30
)

// SVG lays the steps out by level (one row per level, steps in declaration
// order), draws parent→child edges as lines with arrowheads and colours
// each box by state.
func (d *Diagram) SVG() string {
	levels := d.levels()
	rows := map[int][]int{}
	maxLevel := 0
	for i, l := range levels {
		rows[l] = append(rows[l], i)
		maxLevel = max(maxLevel, l)
	}
	widest := 1
	for _, r := range rows {
		widest = max(widest, len(r))
	}
	width := 2*margin + widest*boxW + (widest-1)*gapX
	height := 2*margin + titleH + (maxLevel+1)*boxH + maxLevel*gapY
	if len(d.steps) == 0 {
		height = 2*margin + titleH
	}
	type pos struct{ x, y int }
	at := make([]pos, len(d.steps))
	for l := 0; l <= maxLevel; l++ {
		row := rows[l]
		rowW := len(row)*boxW + (len(row)-1)*gapX
		x0 := (width - rowW) / 2
		for k, i := range row {
			at[i] = pos{x0 + k*(boxW+gapX), margin + titleH + l*(boxH+gapY)}
		}
	}
	index := make(map[int64]int, len(d.steps))
	for i, st := range d.steps {
		index[st.ID] = i
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, "<title>%s</title>\n", esc(fmt.Sprintf("Task %d: %s (%s)", d.task.ID, d.task.FullName(), d.task.State)))
	b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>` + "\n")
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="14" font-weight="bold">%s</text>`+"\n", margin, margin+14,
		esc(fmt.Sprintf("Task %d: %s — %s", d.task.ID, d.task.FullName(), d.task.State)))
	for _, e := range d.edges {
		p, c := at[index[e.From]], at[index[e.To]]
		fmt.Fprintf(&b, `<line class="edge" x1="%d" y1="%d" x2="%d" y2="%d" stroke="#555" stroke-width="1.5" marker-end="url(#arrow)"/>`+"\n",
			p.x+boxW/2, p.y+boxH, c.x+boxW/2, c.y)
	}
	for i, st := range d.steps {
		p := at[i]
		col, ok := stateColours[string(st.State)]
		if !ok {
			col = [2]string{"#ffffff", "#333333"}
		}
		fmt.Fprintf(&b, `<g class="step %s" data-step-id="%d">`+"\n", esc(string(st.State)), st.ID)
		fmt.Fprintf(&b, `<title>%s</title>`, esc(stepTooltip(st)))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" rx="6" fill="%s" stroke="%s" stroke-width="2"/>`+"\n", p.x, p.y, boxW, boxH, col[0], col[1])
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" font-weight="bold">%s</text>`+"\n", p.x+boxW/2, p.y+20, esc(truncate(st.Name, 28)))
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", p.x+boxW/2, p.y+37, esc(string(st.State)))
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" fill="#444">attempts %d/%d</text>`+"\n", p.x+boxW/2, p.y+54, st.Attempts, st.RetryLimit)
		b.WriteString("</g>\n")
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func stepTooltip(st *tasker.Step) string {
	s := fmt.Sprintf("%s (step %d): %s, attempts %d of %d", st.Name, st.ID, st.State, st.Attempts, st.RetryLimit)
	if st.LastError != nil && st.State == tasker.StateError {
		s += "; error: " + st.LastError.Message
	}
	return s
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// esc escapes text for XML and HTML.
func esc(s string) string { return html.EscapeString(s) }

// HTML returns a standalone page with the SVG, a table of the steps and
// the Mermaid source.
func (d *Diagram) HTML() string {
	var b strings.Builder
	title := fmt.Sprintf("Task %d: %s (%s)", d.task.ID, d.task.FullName(), d.task.State)
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	fmt.Fprintf(&b, "<title>%s</title>\n", esc(title))
	b.WriteString("<style>body{font-family:sans-serif;margin:2em;color:#222}pre{background:#f6f8fa;padding:1em;overflow:auto}" +
		"table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}</style>\n</head>\n<body>\n")
	fmt.Fprintf(&b, "<h1>%s</h1>\n", esc(title))
	b.WriteString(d.SVG())
	b.WriteString("<h2>Steps</h2>\n<table>\n<tr><th>id</th><th>name</th><th>status</th><th>attempts</th><th>error</th></tr>\n")
	for _, n := range d.nodes {
		fmt.Fprintf(&b, "<tr><td>%d</td><td>%s</td><td>%s</td><td>%d/%d</td><td>%s</td></tr>\n",
			n.ID, esc(n.Name), esc(n.Status), n.Attempts, n.RetryLimit, esc(n.Error))
	}
	b.WriteString("</table>\n<h2>Mermaid</h2>\n<pre class=\"mermaid\">")
	b.WriteString(esc(d.Mermaid()))
	b.WriteString("</pre>\n</body>\n</html>\n")
	return b.String()
}
