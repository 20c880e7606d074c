-- Durable event delivery: events for outside subscribers (webhooks, NATS)
-- are written here in the same transaction as the fact they describe.
CREATE TABLE tasker_event_outbox (
    id               bigserial   PRIMARY KEY,
    subscription     text        NOT NULL,
    event_name       text        NOT NULL,
    payload          jsonb       NOT NULL,
    state            text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','delivered','dead')),
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    lease_owner      text,
    lease_expires_at timestamptz,
    last_error       text,
    created_at       timestamptz NOT NULL,
    delivered_at     timestamptz
);
CREATE INDEX tasker_event_outbox_due ON tasker_event_outbox (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX tasker_event_outbox_dead ON tasker_event_outbox (subscription, id) WHERE state = 'dead';
