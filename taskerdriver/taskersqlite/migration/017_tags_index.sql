-- PostgreSQL's migration 017 makes its GIN index on the tasks' tags
-- partial (the tasks that have tags). SQLite has no such index: this
-- migration keeps the two drivers' schema versions aligned.
SELECT 1;
