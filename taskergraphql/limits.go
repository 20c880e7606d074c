package taskergraphql

import (
	"context"
	"encoding/json"
	"strconv"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/tasker-go/tasker/taskergraphql/internal/generated"
	"github.com/tasker-go/tasker/taskergraphql/internal/model"
)

// The bounds of one document, beside Config's: what a request may make the
// server do is bounded before anything runs (its size in tokens, its
// fields with fragments expanded, its depth and its complexity), and
// what it may make the server answer while it runs (MaxResponseBytes).
const (
	// maxTokens bounds the tokens the parser reads (a graphql-js
	// introspection query has about 300).
	maxTokens = 15_000
	// dbCost is the complexity of a field that reads or writes the
	// database on its own (a root field, each id of nodes, a mutation):
	// aliases of cheap root fields cannot multiply database reads beyond
	// MaxComplexity / dbCost.
	dbCost = 100
	// stepsPerTask and relatedPerStep are how many items a task's steps
	// and a step's parents or children count as.
	stepsPerTask   = 10
	relatedPerStep = 5
	// introspectionFields is what one __schema or __type counts as in
	// MaxFields: it answers a large part of the schema for one field (a
	// graphql-js introspection query counts about 700 in all).
	introspectionFields = 500
)

// complexity weighs each field by the work it causes: a list's fields
// once per item it may return, a database read dbCost.
func complexity() generated.ComplexityRoot {
	var c generated.ComplexityRoot
	page := func(child int, limit *int) int {
		n := defaultLimit
		if limit != nil && *limit > 0 {
			n = min(*limit, maxLimit)
		}
		return dbCost + n*child
	}
	read := func(child int) int { return dbCost + child }
	c.Query.Tasks = func(child int, limit, _ *int, _, _ *string) int { return page(child, limit) }
	c.Query.TasksByStatus = func(child int, _ string, limit, _ *int, _, _ *string) int { return page(child, limit) }
	c.Query.TasksByAnnotation = func(child int, _, _, _ string, limit, _ *int, _, _ *string) int {
		return page(child, limit)
	}
	c.Query.Task = func(child int, _ string) int { return read(child) }
	c.Query.Step = func(child int, _, _ string) int { return read(child) }
	c.Query.Node = func(child int, _ string) int { return read(child) }
	c.Query.Nodes = func(child int, ids []string) int { return 1 + len(ids)*read(child) }
	c.Query.AnnotationTypes = func(child int) int { return dbCost + stepsPerTask*child }
	c.Mutation.CreateTask = func(child int, _ model.CreateTaskInput) int { return read(child) }
	c.Mutation.UpdateTask = func(child int, _ model.UpdateTaskInput) int { return read(child) }
	c.Mutation.CancelTask = func(child int, _ model.CancelTaskInput) int { return read(child) }
	c.Mutation.RetryTask = func(child int, _ model.RetryTaskInput) int { return read(child) }
	c.Mutation.UpdateStep = func(child int, _ model.UpdateStepInput) int { return read(child) }
	c.Mutation.CancelStep = func(child int, _ model.CancelStepInput) int { return read(child) }
	c.Mutation.ResolveStep = func(child int, _ model.ResolveStepInput) int { return read(child) }
	c.Subscription.TaskUpdated = func(child int, _ string) int { return read(child) }
	c.Subscription.Events = func(child int, _ []string) int { return read(child) }
	c.Task.WorkflowSteps = func(child int) int { return 1 + stepsPerTask*child }
	c.Task.TaskAnnotations = func(child int) int { return 1 + stepsPerTask*child }
	c.WorkflowStep.Parents = func(child int) int { return 1 + relatedPerStep*child }
	c.WorkflowStep.Children = func(child int) int { return 1 + relatedPerStep*child }
	return c
}

// documentLimits refuses, before the document is validated (which
// compares the fields of a selection set pairwise) and its complexity
// computed (which expands every fragment), a document whose fields,
// fragments expanded (each fragment measured once), are more than
// MaxFields or nest deeper than MaxDepth; and a subscription that did not
// come over a WebSocket.
type documentLimits struct{ cfg *Config }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = documentLimits{}

func (documentLimits) ExtensionName() string                   { return "DocumentLimits" }
func (documentLimits) Validate(graphql.ExecutableSchema) error { return nil }

func (d documentLimits) MutateOperationParameters(ctx context.Context, params *graphql.RawParams) *gqlerror.Error {
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: params.Query}, maxTokens)
	if err != nil {
		return nil // answered by the executor's own parse
	}
	m := measureDocument(doc)
	if m.depth > d.cfg.MaxDepth {
		return codeError(CodeBadUserInput, "the document nests "+strconv.Itoa(m.depth)+" levels deep; at most "+
			strconv.Itoa(d.cfg.MaxDepth)+" are allowed", nil)
	}
	if m.fields > int64(d.cfg.MaxFields) {
		return codeError(CodeBadUserInput, "the document selects "+strconv.FormatInt(m.fields, 10)+
			" fields with its fragments expanded; at most "+strconv.Itoa(d.cfg.MaxFields)+
			" are allowed (each __schema or __type counts "+strconv.Itoa(introspectionFields)+"): split it into several requests", nil)
	}
	op := doc.Operations.ForName(params.OperationName)
	if op == nil && params.OperationName == "" && len(doc.Operations) == 1 {
		op = doc.Operations[0]
	}
	if op != nil && op.Operation == ast.Subscription && ctx.Value(upgradeKey{}) == nil {
		return codeError(CodeBadUserInput, "a subscription runs over a WebSocket at this path (graphql-transport-ws); "+
			"send queries and mutations by POST or GET", nil)
	}
	return nil
}

// measureDocument is the shape of every operation and fragment of doc
// (all of which validation visits): the sum of their fields and their
// greatest depth.
func measureDocument(doc *ast.QueryDocument) shape {
	ms := &measurer{frags: map[string]*ast.FragmentDefinition{}, memo: map[string]shape{}, active: map[string]bool{}}
	for _, f := range doc.Fragments {
		ms.frags[f.Name] = f
	}
	var total shape
	add := func(s shape) {
		total.fields = min(total.fields+s.fields, fieldsCap)
		total.depth = max(total.depth, s.depth)
	}
	for _, op := range doc.Operations {
		add(ms.set(op.SelectionSet))
	}
	for _, f := range doc.Fragments {
		add(ms.fragment(f.Name))
	}
	return total
}

// shape is the size of a selection set: its fields, fragments expanded,
// and its depth.
type shape struct {
	fields int64
	depth  int
}

// fieldsCap keeps the count from overflowing; any value over it is refused.
const fieldsCap = 1 << 40

// measurer measures selection sets, each fragment once (memo) so that
// fragments spreading fragments cost linear time, not exponential. active
// guards against a fragment cycle (which validation refuses later).
type measurer struct {
	frags  map[string]*ast.FragmentDefinition
	memo   map[string]shape
	active map[string]bool
}

func (ms *measurer) set(set ast.SelectionSet) shape {
	var out shape
	add := func(s shape, depth int) {
		out.fields = min(out.fields+s.fields, fieldsCap)
		out.depth = max(out.depth, depth)
	}
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			child := ms.set(s.SelectionSet)
			self := int64(1)
			if s.Name == "__schema" || s.Name == "__type" {
				self = introspectionFields
			}
			add(shape{fields: self + child.fields}, 1+child.depth)
		case *ast.InlineFragment:
			child := ms.set(s.SelectionSet)
			add(child, child.depth)
		case *ast.FragmentSpread:
			m := ms.fragment(s.Name)
			add(m, m.depth)
		}
	}
	return out
}

func (ms *measurer) fragment(name string) shape {
	if m, ok := ms.memo[name]; ok {
		return m
	}
	f := ms.frags[name]
	if f == nil || ms.active[name] {
		return shape{}
	}
	ms.active[name] = true
	m := ms.set(f.SelectionSet)
	delete(ms.active, name)
	ms.memo[name] = m
	return m
}

// budget is what is left of MaxResponseBytes for one response (each
// response of a subscription has its own).
type budget struct {
	left  atomic.Int64
	limit int64
}

type budgetKey struct{}

// aroundResponses gives each response its budget, and answers one that
// went over it with only the RESPONSE_TOO_LARGE error; and answers a
// query or mutation whose request ended before it ran (its deadline
// passed) with UNAVAILABLE rather than a null body.
func (c *Config) aroundResponses(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	b := &budget{limit: c.MaxResponseBytes}
	b.left.Store(c.MaxResponseBytes)
	resp := next(context.WithValue(ctx, budgetKey{}, b))
	if resp != nil && b.left.Load() < 0 {
		return &graphql.Response{Errors: gqlerror.List{c.tooLarge()}}
	}
	return resp
}

// aroundOperations answers UNAVAILABLE, instead of nothing, a query or
// mutation whose request's context ended before it could run.
func (c *Config) aroundOperations(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	h := next(ctx)
	oc := graphql.GetOperationContext(ctx)
	// A WebSocket reads responses until nil: only a single-response
	// transport (POST, GET) gets the UNAVAILABLE.
	if oc.Operation == nil || oc.Operation.Operation == ast.Subscription || ctx.Value(upgradeKey{}) != nil {
		return h
	}
	answered := false
	return func(ctx context.Context) *graphql.Response {
		resp := h(ctx)
		if resp == nil && !answered {
			resp = &graphql.Response{Errors: gqlerror.List{codeError(CodeUnavailable,
				"the request ran out of time before it could be answered; retry later", nil)}}
		}
		answered = true
		return resp
	}
}

func (c *Config) tooLarge() *gqlerror.Error {
	return codeError(CodeResponseTooLarge, "the answer would be over the "+strconv.FormatInt(c.MaxResponseBytes, 10)+
		" bytes one response may hold: ask for fewer items (limit), or leave out context, inputs and results "+
		"and read them for one task or step at a time", map[string]any{"limit": c.MaxResponseBytes})
}

// spend charges the answer of one field to ctx's budget; it reports false
// once the budget is spent.
func spend(ctx context.Context, res any) bool {
	b, _ := ctx.Value(budgetKey{}).(*budget)
	if b == nil {
		return true
	}
	return b.left.Add(-int64(answerSize(res))) >= 0
}

// overBudget reports whether ctx's response already went over its budget.
func overBudget(ctx context.Context) bool {
	b, _ := ctx.Value(budgetKey{}).(*budget)
	return b != nil && b.left.Load() < 0
}

// answerSize estimates the bytes of a field's answer: its name, quotes
// and punctuation count as 16, plus the length of text and JSON.
func answerSize(res any) int {
	n := 16
	switch v := res.(type) {
	case model.JSON:
		n += len(v)
	case json.RawMessage:
		n += len(v)
	case string:
		n += len(v)
	case *string:
		if v != nil {
			n += len(*v)
		}
	case []string:
		for _, s := range v {
			n += len(s) + 3
		}
	}
	return n
}
