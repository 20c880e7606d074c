-- Analytics (GET /tasker/analytics/*): the tasks of one template created in
-- a time window are one range of this index, read newest first; it replaces
-- the (namespace, name, version) index, which is its prefix (the loose scan
-- of the distinct templates uses that prefix).
DROP INDEX tasker_tasks_named;
CREATE INDEX tasker_tasks_named ON tasker_tasks (namespace, name, version, created_at);
