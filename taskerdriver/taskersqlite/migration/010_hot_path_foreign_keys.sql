-- PostgreSQL's migration 010 drops the foreign keys of the steps, edges and
-- transition tables, whose per-row triggers cost half of a task's creation
-- there. SQLite checks them in-process, cheaply, and dropping one means
-- rebuilding its table: it keeps them. This migration keeps the two drivers'
-- schema versions aligned.
SELECT 1;
