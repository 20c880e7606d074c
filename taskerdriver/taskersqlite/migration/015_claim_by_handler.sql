-- Claims by handler (a worker claims only the steps of the handlers it
-- runs): handler is in the ready index, so that ready steps of handlers the
-- claiming worker does not run (waiting for another worker, or for none)
-- are passed over on the index, without reading their rows.
DROP INDEX tasker_workflow_steps_ready;
CREATE INDEX tasker_workflow_steps_ready ON tasker_workflow_steps (task_id, workflow_step_id, queue, next_attempt_at, handler)
    WHERE state IN ('pending','error') AND pending_parents = 0 AND blocked = 0;
