-- Workers seen recently: every worker (an in-process worker loop, or a
-- remote worker through the claim and heartbeat routes) upserts its row at
-- most once per heartbeat interval; the maintenance leader deletes the rows
-- of workers not seen for a day. Health and `tasker workers` read it, and
-- it answers "which workers served handler X in the last N minutes".
-- Times are microseconds since the epoch; handlers, namespaces and queues
-- are JSON arrays.
CREATE TABLE tasker_workers (
    worker_id    TEXT    PRIMARY KEY,
    kind         TEXT    NOT NULL,
    host         TEXT    NOT NULL DEFAULT '',
    pid          INTEGER NOT NULL DEFAULT 0,
    version      TEXT    NOT NULL DEFAULT '',
    handlers     TEXT    NOT NULL DEFAULT '[]',
    namespaces   TEXT    NOT NULL DEFAULT '[]',
    queues       TEXT    NOT NULL DEFAULT '[]',
    started_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);
CREATE INDEX tasker_workers_last_seen ON tasker_workers (last_seen_at);
