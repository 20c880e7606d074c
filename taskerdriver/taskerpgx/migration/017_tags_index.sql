-- The tags index holds only the tasks that have tags. A task's row is
-- updated (not in place: its state is indexed) two or three times in its
-- life, and each update added the task to the GIN index again, an empty
-- item for a task without tags (most tasks), with a write to the index's
-- metadata page: 3 of a diamond's WAL records and 3 % of its bytes
-- (docs/benchmarks.md, issue 14). A filter on tags (TaskList's Tags)
-- names a non-empty list, so it says tags <> '[]' too and the index
-- still serves it.
DROP INDEX IF EXISTS tasker_tasks_tags;
CREATE INDEX tasker_tasks_tags ON tasker_tasks USING gin (tags jsonb_path_ops) WHERE tags <> '[]'::jsonb;
