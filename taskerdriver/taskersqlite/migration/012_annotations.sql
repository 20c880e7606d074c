-- Task annotations (the original engine's tasker_annotation_types and
-- tasker_task_annotations): typed JSON objects recorded about a task by
-- handlers, remote workers and operators. A type is created by the first
-- annotation of its name. Annotations go with their task (ON DELETE
-- CASCADE: the driver opens its connections with foreign keys on, and the
-- retention cleaner deletes finished tasks). The annotation is JSON text
-- whose numbers the driver writes as PostgreSQL's numeric does
-- (driverkit.AnnotationJSON), so that the task list's annotation filter
-- compares them as PostgreSQL does. Times are microseconds since the epoch.
CREATE TABLE tasker_annotation_types (
    annotation_type_id INTEGER PRIMARY KEY,
    name               TEXT    NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),
    description        TEXT    NOT NULL DEFAULT '',
    created_at         INTEGER NOT NULL
);

CREATE TABLE tasker_task_annotations (
    task_annotation_id INTEGER PRIMARY KEY,
    task_id            INTEGER NOT NULL REFERENCES tasker_tasks (task_id) ON DELETE CASCADE,
    annotation_type_id INTEGER NOT NULL REFERENCES tasker_annotation_types (annotation_type_id),
    annotation         TEXT    NOT NULL CHECK (json_type(annotation) = 'object'),
    created_at         INTEGER NOT NULL
);
CREATE INDEX tasker_task_annotations_task ON tasker_task_annotations (task_id);
CREATE INDEX tasker_task_annotations_type_task ON tasker_task_annotations (annotation_type_id, task_id);
