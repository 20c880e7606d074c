-- Tasker for Go, SQLite schema version 1.
-- Times are INTEGER microseconds since the Unix epoch, UTC (0 or NULL = unset).
-- JSON columns are TEXT.

CREATE TABLE tasker_tasks (
    task_id        INTEGER PRIMARY KEY,
    namespace      TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    version        TEXT    NOT NULL,
    state          TEXT    NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending','in_progress','complete','error','cancelled','resolved_manually')),
    context        TEXT    NOT NULL DEFAULT '{}',
    initiator      TEXT    NOT NULL DEFAULT 'unknown',
    source_system  TEXT    NOT NULL DEFAULT 'unknown',
    reason         TEXT    NOT NULL DEFAULT 'unknown',
    tags           TEXT    NOT NULL DEFAULT '[]',
    identity_hash  TEXT    NOT NULL UNIQUE,
    transition_seq INTEGER NOT NULL DEFAULT 0,
    requested_at   INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    completed_at   INTEGER
);
CREATE INDEX tasker_tasks_state ON tasker_tasks (state, task_id);
CREATE INDEX tasker_tasks_named ON tasker_tasks (namespace, name, version);
CREATE INDEX tasker_tasks_created ON tasker_tasks (created_at);

CREATE TABLE tasker_workflow_steps (
    workflow_step_id  INTEGER PRIMARY KEY,
    task_id           INTEGER NOT NULL REFERENCES tasker_tasks (task_id) ON DELETE CASCADE,
    name              TEXT    NOT NULL,
    position          INTEGER NOT NULL,
    state             TEXT    NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending','in_progress','complete','error','cancelled','resolved_manually')),
    handler           TEXT    NOT NULL,
    handler_config    TEXT,
    policy            TEXT,
    attempts          INTEGER NOT NULL DEFAULT 0,
    retry_limit       INTEGER NOT NULL DEFAULT 3,
    retryable         INTEGER NOT NULL DEFAULT 1,
    skippable         INTEGER NOT NULL DEFAULT 0,
    blocked           INTEGER NOT NULL DEFAULT 0,
    pending_parents   INTEGER NOT NULL DEFAULT 0,
    inputs            TEXT,
    results           TEXT,
    last_error        TEXT,
    next_attempt_at   INTEGER NOT NULL DEFAULT 0,
    last_attempted_at INTEGER,
    processed_at      INTEGER,
    lease_owner       TEXT,
    lease_expires_at  INTEGER,
    transition_seq    INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    UNIQUE (task_id, name)
);
-- The claim scan: runnable steps by the time they become ready.
CREATE INDEX tasker_workflow_steps_ready ON tasker_workflow_steps (next_attempt_at, workflow_step_id)
    WHERE state IN ('pending','error') AND pending_parents = 0 AND blocked = 0;
-- The rescue scan: leases by expiry.
CREATE INDEX tasker_workflow_steps_lease ON tasker_workflow_steps (lease_expires_at)
    WHERE state = 'in_progress';

CREATE TABLE tasker_workflow_step_edges (
    from_step_id INTEGER NOT NULL REFERENCES tasker_workflow_steps (workflow_step_id) ON DELETE CASCADE,
    to_step_id   INTEGER NOT NULL REFERENCES tasker_workflow_steps (workflow_step_id) ON DELETE CASCADE,
    task_id      INTEGER NOT NULL,
    name         TEXT    NOT NULL DEFAULT 'provides',
    PRIMARY KEY (from_step_id, to_step_id)
) WITHOUT ROWID;
CREATE INDEX tasker_workflow_step_edges_to ON tasker_workflow_step_edges (to_step_id, from_step_id);
CREATE INDEX tasker_workflow_step_edges_task ON tasker_workflow_step_edges (task_id);

CREATE TABLE tasker_task_transitions (
    id          INTEGER PRIMARY KEY,
    task_id     INTEGER NOT NULL REFERENCES tasker_tasks (task_id) ON DELETE CASCADE,
    from_state  TEXT,
    to_state    TEXT    NOT NULL,
    metadata    TEXT    NOT NULL DEFAULT '{}',
    sort_key    INTEGER NOT NULL,
    most_recent INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL,
    UNIQUE (task_id, sort_key)
);
CREATE UNIQUE INDEX tasker_task_transitions_most_recent ON tasker_task_transitions (task_id) WHERE most_recent = 1;

CREATE TABLE tasker_workflow_step_transitions (
    id               INTEGER PRIMARY KEY,
    workflow_step_id INTEGER NOT NULL REFERENCES tasker_workflow_steps (workflow_step_id) ON DELETE CASCADE,
    task_id          INTEGER NOT NULL,
    from_state       TEXT,
    to_state         TEXT    NOT NULL,
    metadata         TEXT    NOT NULL DEFAULT '{}',
    sort_key         INTEGER NOT NULL,
    most_recent      INTEGER NOT NULL DEFAULT 1,
    created_at       INTEGER NOT NULL,
    UNIQUE (workflow_step_id, sort_key)
);
CREATE UNIQUE INDEX tasker_workflow_step_transitions_most_recent
    ON tasker_workflow_step_transitions (workflow_step_id) WHERE most_recent = 1;
CREATE INDEX tasker_workflow_step_transitions_task ON tasker_workflow_step_transitions (task_id);
