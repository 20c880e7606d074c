-- API tokens (tasker token create): only the SHA-256 of a token's secret part
-- is stored, never the secret. lookup_id is the token's public part, by which
-- a presented token is found. A revoked token keeps its row (audit: who had
-- which permissions until when); its name may be given to a new token, so the
-- name is unique only among tokens not revoked.
CREATE TABLE tasker_api_tokens (
    id          bigserial   PRIMARY KEY,
    name        text        NOT NULL,
    lookup_id   text        NOT NULL UNIQUE,
    secret_hash bytea       NOT NULL,
    permissions jsonb       NOT NULL DEFAULT '[]',
    created_by  text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz,
    revoked_at  timestamptz
);
CREATE UNIQUE INDEX tasker_api_tokens_live_name ON tasker_api_tokens (name) WHERE revoked_at IS NULL;
