-- Task annotations (the original engine's tasker_annotation_types and
-- tasker_task_annotations): typed JSON objects recorded about a task by
-- handlers, remote workers and operators. A type is created by the first
-- annotation of its name. Annotations go with their task (ON DELETE
-- CASCADE: the retention cleaner deletes finished tasks). The GIN index
-- serves the task list's annotation filter, which first tests containment
-- (annotation @> {"key": value}) and then compares the member's text.
CREATE TABLE tasker_annotation_types (
    annotation_type_id bigserial   PRIMARY KEY,
    name               text        NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),
    description        text        NOT NULL DEFAULT '',
    created_at         timestamptz NOT NULL
);

CREATE TABLE tasker_task_annotations (
    task_annotation_id bigserial   PRIMARY KEY,
    task_id            bigint      NOT NULL REFERENCES tasker_tasks (task_id) ON DELETE CASCADE,
    annotation_type_id bigint      NOT NULL REFERENCES tasker_annotation_types (annotation_type_id),
    annotation         jsonb       NOT NULL CHECK (jsonb_typeof(annotation) = 'object'),
    created_at         timestamptz NOT NULL
);
CREATE INDEX tasker_task_annotations_task ON tasker_task_annotations (task_id);
CREATE INDEX tasker_task_annotations_type_task ON tasker_task_annotations (annotation_type_id, task_id);
CREATE INDEX tasker_task_annotations_annotation ON tasker_task_annotations USING gin (annotation jsonb_path_ops);
