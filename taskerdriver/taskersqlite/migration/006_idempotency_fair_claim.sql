-- Idempotency keys (POST /tasker/tasks with Idempotency-Key, TaskRequest's
-- IdempotencyKey): a key names the task its first create made, for a
-- retention window; request_hash tells a repeat of the same request from a
-- different request under the same key. A key older than the window is
-- replaced by the next create that gives it; a key goes with its task when
-- the retention cleaner deletes the task.
CREATE TABLE tasker_idempotency_keys (
    key          TEXT    PRIMARY KEY,
    request_hash TEXT    NOT NULL,
    task_id      INTEGER REFERENCES tasker_tasks (task_id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL
);
CREATE INDEX tasker_idempotency_keys_task ON tasker_idempotency_keys (task_id);
-- Fair claim order: ready steps of older tasks first (task id, then step id),
-- rescued steps included. The index is read in that order; queue and
-- next_attempt_at are in it so that steps of other queues or still waiting
-- are skipped without reading the table.
DROP INDEX tasker_workflow_steps_ready;
CREATE INDEX tasker_workflow_steps_ready ON tasker_workflow_steps (task_id, workflow_step_id, queue, next_attempt_at)
    WHERE state IN ('pending','error') AND pending_parents = 0 AND blocked = 0;
