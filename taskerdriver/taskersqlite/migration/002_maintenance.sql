-- Leader election for maintenance (lease rescue, retention).
CREATE TABLE tasker_leaders (
    name       TEXT    PRIMARY KEY,
    leader_id  TEXT    NOT NULL,
    elected_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
-- The retention scan: finished tasks by completion time.
CREATE INDEX tasker_tasks_finished ON tasker_tasks (completed_at) WHERE completed_at IS NOT NULL;
