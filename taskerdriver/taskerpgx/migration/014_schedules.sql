-- Schedules (cron): a schedule creates a task of a template at each fire
-- time. next_fire_at is the next fire time the leader's scheduler handles;
-- it advances by compare-and-set in the transaction that creates the
-- fire's task. tasker_schedule_fires holds one row per schedule and fire
-- time, so that a fire time creates one task even under two schedulers at
-- once; its rows go with their schedule, and the scheduler prunes old ones.
-- (Number 014: 013 is another change; each migration is applied by its
-- own version, in any order.)
CREATE TABLE tasker_schedules (
    schedule_id    bigserial   PRIMARY KEY,
    name           text        NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128),
    namespace      text        NOT NULL,
    task_name      text        NOT NULL,
    version        text        NOT NULL DEFAULT '',
    cron           text        NOT NULL,
    time_zone      text        NOT NULL,
    context        jsonb       NOT NULL CHECK (jsonb_typeof(context) = 'object'),
    overlap        text        NOT NULL CHECK (overlap IN ('allow', 'skip')),
    catch_up       text        NOT NULL CHECK (catch_up IN ('none', 'one', 'all')),
    catch_up_limit integer     NOT NULL CHECK (catch_up_limit >= 0),
    paused         boolean     NOT NULL DEFAULT false,
    source         text        NOT NULL,
    next_fire_at   timestamptz NOT NULL,
    last_fire_at   timestamptz,
    last_task_id   bigint,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX tasker_schedules_due ON tasker_schedules (next_fire_at) WHERE NOT paused;

CREATE TABLE tasker_schedule_fires (
    schedule_id bigint      NOT NULL REFERENCES tasker_schedules (schedule_id) ON DELETE CASCADE,
    fire_at     timestamptz NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (schedule_id, fire_at)
);
CREATE INDEX tasker_schedule_fires_fire_at ON tasker_schedule_fires (fire_at);
