package dburl_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/dburl"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"postgres://tasker:s3cret@db:5432/tasker?sslmode=disable":     "postgres://tasker:xxxxx@db:5432/tasker?sslmode=disable",
		"postgresql://u:p%40ss@h/db":                                  "postgresql://u:xxxxx@h/db",
		"postgres://u@h/db?password=s3cret&sslmode=require":           "postgres://u@h/db?password=xxxxx&sslmode=require",
		"postgres://u@h/db?sslpassword=s3cret":                        "postgres://u@h/db?sslpassword=xxxxx",
		"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable": "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
		"sqlite://tasker.db":                                          "sqlite://tasker.db",
		"tasker.db":                                                   "tasker.db",
		"postgres://u:s3cret@h:badport/db":                            "postgres://xxxxx",
	} {
		require.Equal(t, want, dburl.Redact(in), in)
		require.NotContains(t, dburl.Redact(in), "s3cret")
	}
}
