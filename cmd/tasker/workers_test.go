package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
)

// `task show --dependencies` prints the same analysis from the database
// and through a server; `workers` lists the workers seen, from both too.
func TestDependenciesAndWorkersCommands(t *testing.T) {
	t.Parallel()
	db := tempDB(t)
	mustRun(t, withDB(t, db, "task", "create", "diamond_workflow", "--context", `{"even_number": 4}`)...)

	local := mustRun(t, withDB(t, db, "task", "show", "1", "--dependencies")...)
	require.Contains(t, local, "task 1: healthy")
	require.Contains(t, local, "steps 4, dependencies 4, levels 3, longest path 3")
	require.Contains(t, local, "most critical path")
	raw := mustRun(t, withDB(t, db, "task", "get", "1", "--dependencies", "-o", "json")...)
	var da tasker.TaskDependencyAnalysis
	require.NoError(t, json.Unmarshal([]byte(raw), &da))
	require.EqualValues(t, 1, da.TaskID)
	require.Equal(t, 2, da.CriticalPaths.TotalPaths)
	_, _, err := run(t, withDB(t, db, "task", "get", "1", "--dependencies", "--transitions")...)
	require.Error(t, err, "one view at a time")

	require.Contains(t, mustRun(t, "--database", db, "workers"), "0 workers seen in the last 5m0s")
	_, _, err = run(t, "--database", db, "workers", "--since", "30s")
	require.ErrorContains(t, err, "--since 30s is out of range")

	c, srv := serveDB(t, db, examplesDir(t), 0)

	require.Equal(t, local, mustRun(t, "task", "show", "1", "--dependencies", "--server", srv.URL), "the same analysis through the server")

	startWorker(t, c)
	out := mustRun(t, "--database", db, "workers")
	require.Regexp(t, `(?m)^\S+ +in_process +\S+ +\d+ +\S+ +.*exec`, out)
	require.Contains(t, out, "1 workers seen in the last 5m0s")
	require.Equal(t, out, mustRun(t, "workers", "--server", srv.URL), "the same list through the server")
	raw = mustRun(t, "workers", "--server", srv.URL, "-o", "json", "--since", "1h")
	var list struct {
		Workers []*tasker.WorkerInfo `json:"workers"`
	}
	require.NoError(t, json.Unmarshal([]byte(raw), &list))
	require.Len(t, list.Workers, 1)
	require.Equal(t, tasker.WorkerInProcess, list.Workers[0].Kind)
}
