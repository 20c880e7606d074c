package taskerauth_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerauth"
)

func TestAllows(t *testing.T) {
	t.Parallel()
	cases := []struct {
		granted, needed string
		want            bool
	}{
		{"tasker.task:index", "tasker.task:index", true},
		{"tasker.task:index", "tasker.task:show", false},
		{"tasker.task:*", "tasker.task:show", true},
		{"tasker.task:*", "tasker.task:retry", true},
		{"tasker.task:*", "tasker.workflow_step:show", false},
		{"tasker.task:*", "tasker.task_x:show", false},
		{"tasker.task:*", "tasker.taskx:show", false},
		{"*", "tasker.worker:work", true},
		{"*", "anything:at_all", true},
		// Only "resource:*" and "*" are wildcards.
		{"tasker.*", "tasker.task:index", false},
		{"tasker.*:index", "tasker.task:index", false},
		{"*:index", "tasker.task:index", false},
		{"tasker.task:ind*", "tasker.task:index", false},
		// Malformed grants and needs never match.
		{"tasker.task", "tasker.task", false},
		{"", "", false},
		{"", "tasker.task:index", false},
		{"*", "", false},
		{"*", "*", false},
		{"*", "tasker.task", false},
		{"tasker.task:*", "tasker.task:*", false},
		{"tasker.task:index ", "tasker.task:index", false},
		{"TASKER.TASK:INDEX", "tasker.task:index", false},
		{":index", ":index", false},
		{"tasker.task:", "tasker.task:", false},
	}
	for _, c := range cases {
		require.Equal(t, c.want, taskerauth.Allows(c.granted, c.needed), "Allows(%q, %q)", c.granted, c.needed)
	}
}

func TestValidatePermission(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"*", "tasker.task:index", "tasker.task:*", "tasker.dead_letter:replay", "my-app.thing:do"} {
		require.NoError(t, taskerauth.ValidatePermission(ok), ok)
	}
	bad := map[string]string{
		"":                    "empty",
		"tasker.task":         "no colon",
		"admin":               "no colon",
		":index":              "invalid resource",
		"tasker.task:":        "invalid action",
		"tasker task:index":   "invalid resource",
		"tasker.task:in dex":  "invalid action",
		"tasker.*:index":      "invalid resource",
		"tasker.task:a:b":     "invalid action",
		"tasker.task:ind*":    "invalid action",
		"tasker.task:index\n": "invalid action",
		// The rule of API tokens too (internal/permission): no dot in an
		// action, at most 128 bytes.
		"tasker.task:a.b":                         "invalid action",
		"tasker.task:" + strings.Repeat("x", 117): "longer than 128",
	}
	for s, want := range bad {
		err := taskerauth.ValidatePermission(s)
		require.Error(t, err, "%q", s)
		require.ErrorContains(t, err, want, "%q", s)
		require.ErrorContains(t, err, `"resource:action"`, "%q: the message shows the form", s)
	}
	require.ErrorContains(t, taskerauth.ValidatePermission(string(make([]byte, 300))), "longer than")
}

func TestPrincipalCan(t *testing.T) {
	t.Parallel()
	p := &taskerauth.Principal{Subject: "ci", Method: taskerauth.MethodToken,
		Permissions: []string{"tasker.task:index", "tasker.workflow_step:*"}}
	require.True(t, p.Can("tasker.task:index"))
	require.True(t, p.Can("tasker.workflow_step:resolve"))
	require.False(t, p.Can("tasker.task:create"))
	var none *taskerauth.Principal
	require.False(t, none.Can("tasker.task:index"))
}

func TestPermissionAuthorizer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var az taskerauth.Authorizer = taskerauth.PermissionAuthorizer{}
	p := &taskerauth.Principal{Subject: "ci", Method: taskerauth.MethodJWT, Permissions: []string{"tasker.task:*"}}

	require.NoError(t, az.Authorize(ctx, p, "tasker.task:retry"))

	err := az.Authorize(ctx, p, "tasker.handler:index")
	require.ErrorIs(t, err, taskerauth.ErrForbidden)
	require.NotErrorIs(t, err, taskerauth.ErrInvalidCredential)
	require.Contains(t, err.Error(), `"tasker.handler:index"`)
	var fe *taskerauth.ForbiddenError
	require.True(t, errors.As(err, &fe))
	require.Equal(t, "tasker.handler:index", fe.Permission)
	require.Equal(t, "ci", fe.Subject)

	require.ErrorIs(t, az.Authorize(ctx, nil, "tasker.task:index"), taskerauth.ErrForbidden)
}

// Covers: a holder may hand on only what it holds; a wildcard grant needs
// the same or a wider wildcard, never one action of it.
func TestCovers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		granted []string
		grant   string
		want    bool
	}{
		{[]string{"*"}, "*", true},
		{[]string{"*"}, "tasker.task:*", true},
		{[]string{"*"}, "tasker.task:index", true},
		{[]string{"tasker.task:*"}, "tasker.task:*", true},
		{[]string{"tasker.task:*"}, "tasker.task:retry", true},
		{[]string{"tasker.task:*"}, "*", false},
		{[]string{"tasker.task:*"}, "tasker.handler:*", false},
		{[]string{"tasker.task:*"}, "tasker.handler:index", false},
		{[]string{"tasker.task:index", "tasker.task:show"}, "tasker.task:*", false},
		{[]string{"tasker.token:create"}, "*", false},
		{[]string{"tasker.token:create"}, "tasker.token:*", false},
		{[]string{"tasker.token:create", "tasker.task:index"}, "tasker.task:index", true},
		{[]string{"tasker.token:create"}, "tasker.token:create", true},
		{nil, "tasker.task:index", false},
		{[]string{"*"}, "tasker.task", false},
		{[]string{"*"}, "", false},
		{[]string{"tasker.*"}, "tasker.*", false},
	}
	for _, c := range cases {
		require.Equal(t, c.want, taskerauth.Covers(c.granted, c.grant), "Covers(%q, %q)", c.granted, c.grant)
		p := &taskerauth.Principal{Subject: "x", Permissions: c.granted}
		require.Equal(t, c.want, p.CanGrant(c.grant))
	}
	var none *taskerauth.Principal
	require.False(t, none.CanGrant("tasker.task:index"))
}

func TestPrincipalContext(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, ok := taskerauth.PrincipalFrom(ctx)
	require.False(t, ok)
	p := &taskerauth.Principal{Subject: "alice"}
	got, ok := taskerauth.PrincipalFrom(taskerauth.WithPrincipal(ctx, p))
	require.True(t, ok)
	require.Same(t, p, got)
	_, ok = taskerauth.PrincipalFrom(taskerauth.WithPrincipal(ctx, nil))
	require.False(t, ok)
}
