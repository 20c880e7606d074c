-- A step's transitions are found through one index, (task_id,
-- workflow_step_id, sort_key): a task's (its steps' histories, the
-- analytics, the retention cleaner's delete) by its first column, a step's
-- by its first two (driverkit.TransitionQuery reads the step's task first).
-- It replaces the unique (workflow_step_id, sort_key) key and the index on
-- task_id: every transition row, three a step in a plain run, wrote an entry
-- in each (docs/benchmarks.md, issue 14). It still refuses two transitions
-- with the same place in a step's history, since a step belongs to one task.
CREATE UNIQUE INDEX tasker_workflow_step_transitions_key
    ON tasker_workflow_step_transitions (task_id, workflow_step_id, sort_key);
ALTER TABLE tasker_workflow_step_transitions
    DROP CONSTRAINT IF EXISTS tasker_workflow_step_transitions_workflow_step_id_sort_key_key;
DROP INDEX IF EXISTS tasker_workflow_step_transitions_task;
