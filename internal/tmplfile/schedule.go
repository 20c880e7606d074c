package tmplfile

import (
	"fmt"
	"regexp"

	"go.yaml.in/yaml/v3"

	"github.com/tasker-go/tasker/internal/cronexpr"
)

// Schedule is one item of a template's schedules: a task of the template
// at each fire time of Cron.
type Schedule struct {
	Name     string         `json:"name"`
	Cron     string         `json:"cron"`
	TimeZone string         `json:"time_zone,omitempty"`
	Context  map[string]any `json:"context,omitempty"`
	// Overlap is "allow" or "skip"; empty when the file does not say.
	Overlap string `json:"overlap,omitempty"`
	// CatchUp is "none", "one" or "all"; empty when the file does not say.
	CatchUp string `json:"catch_up,omitempty"`
	// CatchUpLimit is 0 when the file does not say.
	CatchUpLimit int `json:"catch_up_limit,omitempty"`
	// Line is the line of the item.
	Line int `json:"-"`
}

var (
	scheduleKeys   = []string{"name", "cron", "time_zone", "context", "overlap", "catch_up", "catch_up_limit"}
	scheduleNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
)

// checkOnce returns check(v), calling check only for a v not in checked
// yet and keeping its answer there.
func checkOnce(checked map[string]error, v string, check func(string) error) error {
	err, done := checked[v]
	if !done {
		err = check(v)
		checked[v] = err
	}
	return err
}

func parseCron(expr string) error {
	_, err := cronexpr.Parse(expr)
	return err
}

func loadZone(name string) error {
	_, err := cronexpr.LoadLocation(name)
	return err
}

// maxCatchUpLimit is the largest catch_up_limit (the engine's too).
const maxCatchUpLimit = 1000

// schedules decodes the template's schedules.
func (p *parser) schedules(n *yaml.Node) []Schedule {
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.typeError(n, "", "schedules", "a list of {name, cron, time_zone, context, overlap, catch_up, catch_up_limit} mappings")
		return nil
	}
	var out []Schedule
	seen := map[string]int{}
	// Aliases can repeat one item many times: each zone and expression is
	// checked once (a zone that does not exist costs a file search).
	zones, crons := map[string]error{}, map[string]error{}
	for i, item := range n.Content {
		if !p.spend(1, n.Line) {
			break
		}
		item = deref(item)
		if item.Kind != yaml.MappingNode {
			p.add(&Error{Line: item.Line, Field: "schedules",
				Problem: fmt.Sprintf("schedules item %d must be a mapping with name and cron, got %s", i+1, describe(item))})
			continue
		}
		s := Schedule{Line: item.Line}
		for _, pr := range p.checkKeys(p.pairs(item, ""), "", "schedules", scheduleKeys) {
			k, v := pr.key.Value, pr.val
			field := "schedules." + k
			switch k {
			case "name":
				s.Name, _ = p.str(v, "", field)
			case "cron":
				if c, ok := p.str(v, "", field); ok {
					s.Cron = c
					if err := checkOnce(crons, c, parseCron); err != nil {
						p.add(&Error{Line: v.Line, Field: field, Problem: fmt.Sprintf("cron %q %s", c, err.Error()),
							Fix: `use 5 fields (minute hour day-of-month month day-of-week), 6 with seconds first, @daily or @every 10m`})
					}
				}
			case "time_zone":
				if z, ok := p.str(v, "", field); ok {
					s.TimeZone = z
					if err := checkOnce(zones, z, loadZone); err != nil {
						p.add(&Error{Line: v.Line, Field: field, Problem: "time_zone " + err.Error()})
					}
				}
			case "context":
				s.Context = p.freeMap(v, "", field)
			case "overlap":
				if o, ok := p.str(v, "", field); ok {
					s.Overlap = o
					if o != "allow" && o != "skip" {
						p.add(&Error{Line: v.Line, Field: field, Problem: fmt.Sprintf("overlap %q is not a policy", o), Fix: `use "allow" or "skip"`})
					}
				}
			case "catch_up":
				if c, ok := p.str(v, "", field); ok {
					s.CatchUp = c
					if c != "none" && c != "one" && c != "all" {
						p.add(&Error{Line: v.Line, Field: field, Problem: fmt.Sprintf("catch_up %q is not a policy", c), Fix: `use "none", "one" or "all"`})
					}
				}
			case "catch_up_limit":
				if l := p.intPtr(v, "", field); l != nil {
					s.CatchUpLimit = *l
					if *l < 1 || *l > maxCatchUpLimit {
						p.add(&Error{Line: v.Line, Field: field, Problem: fmt.Sprintf("catch_up_limit %d is out of range", *l), Fix: fmt.Sprintf("use 1 to %d", maxCatchUpLimit)})
					}
				}
			}
		}
		switch {
		case s.Name == "":
			p.add(&Error{Line: item.Line, Field: "schedules.name", Problem: fmt.Sprintf("schedules item %d: missing required key \"name\"", i+1), Fix: "name the schedule, such as name: nightly"})
		case !scheduleNameRE.MatchString(s.Name):
			p.add(&Error{Line: item.Line, Field: "schedules.name", Problem: fmt.Sprintf("schedule name %q is not valid", s.Name),
				Fix: `use letters, digits, "_", "." and "-", starting with a letter, digit or "_", at most 128 bytes`})
		default:
			if prev, dup := seen[s.Name]; dup {
				p.add(&Error{Line: item.Line, Field: "schedules.name", Problem: fmt.Sprintf("duplicate schedule name %q (lines %d and %d)", s.Name, prev, item.Line),
					Fix: "give each schedule a unique name"})
			}
			seen[s.Name] = item.Line
		}
		if s.Cron == "" {
			p.add(&Error{Line: item.Line, Field: "schedules.cron", Problem: fmt.Sprintf("schedule %q: missing required key \"cron\"", s.Name),
				Fix: `give a cron expression such as "0 3 * * *" or "@every 10m"`})
		}
		out = append(out, s)
	}
	return out
}
