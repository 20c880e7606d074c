-- Tasker for Go, PostgreSQL schema version 1.
-- Times are timestamptz; the epoch stands for "no time" in NOT NULL columns.

CREATE TABLE tasker_tasks (
    task_id        bigserial   PRIMARY KEY,
    namespace      text        NOT NULL,
    name           text        NOT NULL,
    version        text        NOT NULL,
    state          text        NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending','in_progress','complete','error','cancelled','resolved_manually')),
    context        jsonb       NOT NULL DEFAULT '{}',
    initiator      text        NOT NULL DEFAULT 'unknown',
    source_system  text        NOT NULL DEFAULT 'unknown',
    reason         text        NOT NULL DEFAULT 'unknown',
    tags           jsonb       NOT NULL DEFAULT '[]',
    identity_hash  text        NOT NULL UNIQUE,
    transition_seq integer     NOT NULL DEFAULT 0,
    requested_at   timestamptz NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    completed_at   timestamptz
);
CREATE INDEX tasker_tasks_state ON tasker_tasks (state, task_id);
CREATE INDEX tasker_tasks_named ON tasker_tasks (namespace, name, version);
CREATE INDEX tasker_tasks_created ON tasker_tasks (created_at);
CREATE INDEX tasker_tasks_tags ON tasker_tasks USING gin (tags jsonb_path_ops);
CREATE INDEX tasker_tasks_finished ON tasker_tasks (completed_at) WHERE completed_at IS NOT NULL;

CREATE TABLE tasker_workflow_steps (
    workflow_step_id  bigserial   PRIMARY KEY,
    task_id           bigint      NOT NULL REFERENCES tasker_tasks (task_id) ON DELETE CASCADE,
    name              text        NOT NULL,
    position          integer     NOT NULL,
    state             text        NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending','in_progress','complete','error','cancelled','resolved_manually')),
    handler           text        NOT NULL,
    handler_config    jsonb,
    policy            jsonb,
    attempts          integer     NOT NULL DEFAULT 0,
    retry_limit       integer     NOT NULL DEFAULT 3,
    retryable         boolean     NOT NULL DEFAULT true,
    skippable         boolean     NOT NULL DEFAULT false,
    blocked           boolean     NOT NULL DEFAULT false,
    pending_parents   integer     NOT NULL DEFAULT 0,
    inputs            jsonb,
    results           jsonb,
    last_error        jsonb,
    next_attempt_at   timestamptz NOT NULL DEFAULT 'epoch',
    last_attempted_at timestamptz,
    processed_at      timestamptz,
    lease_owner       text,
    lease_expires_at  timestamptz,
    transition_seq    integer     NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    UNIQUE (task_id, name)
);
-- The claim scan: runnable steps by the time they become ready.
CREATE INDEX tasker_workflow_steps_ready ON tasker_workflow_steps (next_attempt_at, workflow_step_id)
    WHERE state IN ('pending','error') AND pending_parents = 0 AND NOT blocked;
-- The rescue scan: leases by expiry.
CREATE INDEX tasker_workflow_steps_lease ON tasker_workflow_steps (lease_expires_at)
    WHERE state = 'in_progress';

CREATE TABLE tasker_workflow_step_edges (
    from_step_id bigint NOT NULL REFERENCES tasker_workflow_steps (workflow_step_id) ON DELETE CASCADE,
    to_step_id   bigint NOT NULL REFERENCES tasker_workflow_steps (workflow_step_id) ON DELETE CASCADE,
    task_id      bigint NOT NULL,
    name         text   NOT NULL DEFAULT 'provides',
    PRIMARY KEY (from_step_id, to_step_id)
);
CREATE INDEX tasker_workflow_step_edges_to ON tasker_workflow_step_edges (to_step_id, from_step_id);
CREATE INDEX tasker_workflow_step_edges_task ON tasker_workflow_step_edges (task_id);

CREATE TABLE tasker_task_transitions (
    id          bigserial   PRIMARY KEY,
    task_id     bigint      NOT NULL REFERENCES tasker_tasks (task_id) ON DELETE CASCADE,
    from_state  text,
    to_state    text        NOT NULL,
    metadata    jsonb       NOT NULL DEFAULT '{}',
    sort_key    integer     NOT NULL,
    most_recent boolean     NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL,
    UNIQUE (task_id, sort_key)
);
CREATE UNIQUE INDEX tasker_task_transitions_most_recent ON tasker_task_transitions (task_id) WHERE most_recent;

CREATE TABLE tasker_workflow_step_transitions (
    id               bigserial   PRIMARY KEY,
    workflow_step_id bigint      NOT NULL REFERENCES tasker_workflow_steps (workflow_step_id) ON DELETE CASCADE,
    task_id          bigint      NOT NULL,
    from_state       text,
    to_state         text        NOT NULL,
    metadata         jsonb       NOT NULL DEFAULT '{}',
    sort_key         integer     NOT NULL,
    most_recent      boolean     NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL,
    UNIQUE (workflow_step_id, sort_key)
);
CREATE UNIQUE INDEX tasker_workflow_step_transitions_most_recent
    ON tasker_workflow_step_transitions (workflow_step_id) WHERE most_recent;
CREATE INDEX tasker_workflow_step_transitions_task ON tasker_workflow_step_transitions (task_id);

-- Leader election for maintenance (lease rescue, retention).
CREATE TABLE tasker_leaders (
    name       text        PRIMARY KEY,
    leader_id  text        NOT NULL,
    elected_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
