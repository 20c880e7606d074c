-- Schedules (cron): a schedule creates a task of a template at each fire
-- time. next_fire_at is the next fire time the leader's scheduler handles;
-- it advances by compare-and-set in the transaction that creates the
-- fire's task. tasker_schedule_fires holds one row per schedule and fire
-- time, so that a fire time creates one task even under two schedulers at
-- once; its rows go with their schedule (ON DELETE CASCADE: the driver
-- opens its connections with foreign keys on), and the scheduler prunes
-- old ones. Times are microseconds since the epoch. (Number 014: 013 is
-- another change; each migration is applied by its own version.)
CREATE TABLE tasker_schedules (
    schedule_id    INTEGER PRIMARY KEY,
    name           TEXT    NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128),
    namespace      TEXT    NOT NULL,
    task_name      TEXT    NOT NULL,
    version        TEXT    NOT NULL DEFAULT '',
    cron           TEXT    NOT NULL,
    time_zone      TEXT    NOT NULL,
    context        TEXT    NOT NULL CHECK (json_type(context) = 'object'),
    overlap        TEXT    NOT NULL CHECK (overlap IN ('allow', 'skip')),
    catch_up       TEXT    NOT NULL CHECK (catch_up IN ('none', 'one', 'all')),
    catch_up_limit INTEGER NOT NULL CHECK (catch_up_limit >= 0),
    paused         INTEGER NOT NULL DEFAULT 0,
    source         TEXT    NOT NULL,
    next_fire_at   INTEGER NOT NULL,
    last_fire_at   INTEGER,
    last_task_id   INTEGER,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX tasker_schedules_due ON tasker_schedules (next_fire_at) WHERE paused = 0;

CREATE TABLE tasker_schedule_fires (
    schedule_id INTEGER NOT NULL REFERENCES tasker_schedules (schedule_id) ON DELETE CASCADE,
    fire_at     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (schedule_id, fire_at)
) WITHOUT ROWID;
CREATE INDEX tasker_schedule_fires_fire_at ON tasker_schedule_fires (fire_at);
