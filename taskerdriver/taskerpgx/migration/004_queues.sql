-- Remote workers: a step with a queue is claimed only by remote workers
-- polling that queue (POST /tasker/workers/claim); in-process workers claim
-- the steps without one (queue '').
ALTER TABLE tasker_workflow_steps ADD COLUMN queue text NOT NULL DEFAULT '';
DROP INDEX tasker_workflow_steps_ready;
CREATE INDEX tasker_workflow_steps_ready ON tasker_workflow_steps (queue, next_attempt_at, workflow_step_id)
    WHERE state IN ('pending','error') AND pending_parents = 0 AND NOT blocked;
