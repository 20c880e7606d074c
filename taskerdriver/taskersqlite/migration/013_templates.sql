-- Task templates registered in the database: workers (and tasker serve)
-- register the templates they load when they start, `tasker template push`
-- registers files without a worker, and any process can then create,
-- validate, list and draw tasks of them without the files. A template is
-- keyed by namespace, name and version; definition is its canonical JSON
-- form (defaults applied, handler_config ${VAR} references as written,
-- never their values), whose bytes are the ones hashed (content_hash, hex
-- SHA-256). The same version with other content is refused unless replaced
-- explicitly. Times are microseconds since the epoch.
CREATE TABLE tasker_templates (
    namespace     TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    version       TEXT    NOT NULL,
    content_hash  TEXT    NOT NULL,
    definition    TEXT    NOT NULL,
    source        TEXT    NOT NULL DEFAULT '',
    registered_by TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (namespace, name, version)
);
