-- PostgreSQL's migration 016 replaces the step transitions' unique
-- (workflow_step_id, sort_key) key and their task_id index with one index
-- on (task_id, workflow_step_id, sort_key). SQLite keeps both: the key is
-- part of its table's definition (dropping it means rebuilding the table),
-- and its foreign key to the steps, which SQLite keeps (migration 010),
-- finds a deleted step's transitions through it. This migration keeps the
-- two drivers' schema versions aligned.
SELECT 1;
