-- Task templates registered in the database: workers (and tasker serve)
-- register the templates they load when they start, `tasker template push`
-- registers files without a worker, and any process can then create,
-- validate, list and draw tasks of them without the files. A template is
-- keyed by namespace, name and version; definition is its canonical JSON
-- form (defaults applied, handler_config ${VAR} references as written,
-- never their values), kept as text so that its bytes are the ones hashed
-- (content_hash, hex SHA-256). The same version with other content is
-- refused unless replaced explicitly.
CREATE TABLE tasker_templates (
    namespace     text        NOT NULL,
    name          text        NOT NULL,
    version       text        NOT NULL,
    content_hash  text        NOT NULL,
    definition    text        NOT NULL,
    source        text        NOT NULL DEFAULT '',
    registered_by text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (namespace, name, version)
);
