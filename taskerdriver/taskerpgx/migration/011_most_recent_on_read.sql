-- Which transition of a step (or task) is the most recent is read from the
-- sort keys (the highest; driverkit.TransitionQuery) instead of stored: a
-- state change then writes one transition row and updates none. Before, each
-- change also demoted the previous row (an update, with its index entries)
-- and kept a partial unique index on the flag. The unique (id, sort_key) keys
-- still refuse two transitions with the same place in a history. The API's
-- most_recent field is unchanged.
DROP INDEX IF EXISTS tasker_task_transitions_most_recent;
DROP INDEX IF EXISTS tasker_workflow_step_transitions_most_recent;
ALTER TABLE tasker_task_transitions DROP COLUMN most_recent;
ALTER TABLE tasker_workflow_step_transitions DROP COLUMN most_recent;
