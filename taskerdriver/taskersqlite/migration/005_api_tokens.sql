-- API tokens (tasker token create): only the SHA-256 of a token's secret part
-- is stored, never the secret. lookup_id is the token's public part, by which
-- a presented token is found. A revoked token keeps its row (audit: who had
-- which permissions until when); its name may be given to a new token, so the
-- name is unique only among tokens not revoked.
CREATE TABLE tasker_api_tokens (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    lookup_id   TEXT    NOT NULL UNIQUE,
    secret_hash BLOB    NOT NULL,
    permissions TEXT    NOT NULL DEFAULT '[]',
    created_by  TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    revoked_at  INTEGER
);
CREATE UNIQUE INDEX tasker_api_tokens_live_name ON tasker_api_tokens (name) WHERE revoked_at IS NULL;
