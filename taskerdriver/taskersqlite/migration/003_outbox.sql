-- Durable event delivery: events for outside subscribers (webhooks, NATS)
-- are written here in the same transaction as the fact they describe.
CREATE TABLE tasker_event_outbox (
    id               INTEGER PRIMARY KEY,
    subscription     TEXT    NOT NULL,
    event_name       TEXT    NOT NULL,
    payload          TEXT    NOT NULL,
    state            TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','delivered','dead')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    delivered_at     INTEGER
);
CREATE INDEX tasker_event_outbox_due ON tasker_event_outbox (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX tasker_event_outbox_dead ON tasker_event_outbox (subscription, id) WHERE state = 'dead';
