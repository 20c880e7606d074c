-- The engine's hot path writes a step's transition rows, the steps and edges
-- of a new task and its transitions many times a second; each foreign key
-- on them ran a trigger (a lookup of the parent row under a KEY SHARE lock)
-- per inserted row: about half of a task's creation time (docs/benchmarks.md).
-- Only the engine writes these rows, always in the same transaction as their
-- parent (or after it, under its lock), and the one deletion of tasks
-- (retention, TaskDeleteFinished) deletes their steps, edges and transitions
-- in the same statement. The keys go; the columns and their indexes stay.
-- (tasker_idempotency_keys keeps its key and its ON DELETE CASCADE: it is
-- off the hot path.)
ALTER TABLE tasker_workflow_steps DROP CONSTRAINT IF EXISTS tasker_workflow_steps_task_id_fkey;
ALTER TABLE tasker_workflow_step_edges DROP CONSTRAINT IF EXISTS tasker_workflow_step_edges_from_step_id_fkey;
ALTER TABLE tasker_workflow_step_edges DROP CONSTRAINT IF EXISTS tasker_workflow_step_edges_to_step_id_fkey;
ALTER TABLE tasker_task_transitions DROP CONSTRAINT IF EXISTS tasker_task_transitions_task_id_fkey;
ALTER TABLE tasker_workflow_step_transitions DROP CONSTRAINT IF EXISTS tasker_workflow_step_transitions_workflow_step_id_fkey;
