-- Leader election for maintenance and the retention scan's index. On
-- PostgreSQL both are part of 001_initial (tasker_leaders,
-- tasker_tasks_finished); this version exists so that both drivers number
-- the same schema change the same (SQLite added them here). Databases
-- migrated when PostgreSQL numbered outbox 002 and queues 003 are renumbered
-- by Migrate (see renumber in driver.go).
SELECT 1;
