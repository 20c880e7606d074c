-- Workers seen recently: every worker (an in-process worker loop, or a
-- remote worker through the claim and heartbeat routes) upserts its row at
-- most once per heartbeat interval; the maintenance leader deletes the rows
-- of workers not seen for a day. Health and `tasker workers` read it, and
-- it answers "which workers served handler X in the last N minutes".
CREATE TABLE tasker_workers (
    worker_id    text        PRIMARY KEY,
    kind         text        NOT NULL,
    host         text        NOT NULL DEFAULT '',
    pid          integer     NOT NULL DEFAULT 0,
    version      text        NOT NULL DEFAULT '',
    handlers     jsonb       NOT NULL DEFAULT '[]',
    namespaces   jsonb       NOT NULL DEFAULT '[]',
    queues       jsonb       NOT NULL DEFAULT '[]',
    started_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL
);
CREATE INDEX tasker_workers_last_seen ON tasker_workers (last_seen_at);
