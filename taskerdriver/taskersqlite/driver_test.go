package taskersqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskerdriver/taskerdrivertest"
	"github.com/tasker-go/tasker/taskerdriver/taskersqlite"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	taskerdrivertest.Exercise(t, func(t *testing.T) taskerdriver.Driver {
		d, err := taskersqlite.Open(filepath.Join(t.TempDir(), "tasker.db"))
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, d.Close()) })
		require.NoError(t, d.Migrate(t.Context()))
		return d
	})
}
