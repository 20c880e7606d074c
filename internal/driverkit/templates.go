package driverkit

import (
	"strings"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// TemplateColumns are the columns of tasker_templates without the
// definition, in the order the drivers scan them; TemplateDefinitionColumns
// adds the definition last.
const (
	TemplateColumns           = `namespace, name, version, content_hash, source, registered_by, created_at, updated_at`
	TemplateDefinitionColumns = TemplateColumns + `, definition`
)

// TemplateKey names a template in the drivers' errors.
func TemplateKey(namespace, name, version string) string {
	return namespace + "." + name + "@" + version
}

// TemplateExisting decides what TemplateRegister does when the key is
// already stored with row: nothing (the same content), refuse (other
// content, no Replace), or replace (update, guarded by the stored hash).
func TemplateExisting(p *taskerdriver.TemplateRegisterParams, row *taskertype.RegisteredTemplate) (outcome taskerdriver.TemplateRegisterOutcome, update bool) {
	switch {
	case row.Hash == p.Hash:
		return taskerdriver.TemplateUnchanged, false
	case !p.Replace:
		return taskerdriver.TemplateConflict, false
	default:
		return taskerdriver.TemplateReplaced, true
	}
}

// TemplateListQuery is TemplateList's statement but for its ORDER BY (the
// driver adds it, in the collation of its database), with its arguments:
// the columns (the definition too when asked) and the namespace and name
// filters, whose i-th argument (from 1) ph writes as a placeholder.
func TemplateListQuery(p *taskerdriver.TemplateListParams, ph func(i int) string) (string, []any) {
	cols := TemplateColumns
	if p.WithDefinition {
		cols = TemplateDefinitionColumns
	}
	var where []string
	var args []any
	for _, f := range []struct{ col, value string }{{"namespace", p.Namespace}, {"name", p.Name}} {
		if f.value != "" {
			args = append(args, f.value)
			where = append(where, f.col+" = "+ph(len(args)))
		}
	}
	q := `SELECT ` + cols + ` FROM tasker_templates`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	return q, args
}
