-- Trace context (OpenTelemetry): the W3C traceparent and tracestate a task
-- was created under, so that every step attempt, on any worker process,
-- joins the task's trace. Empty when the task was created without one.
ALTER TABLE tasker_tasks ADD COLUMN trace_parent TEXT NOT NULL DEFAULT '';
ALTER TABLE tasker_tasks ADD COLUMN trace_state  TEXT NOT NULL DEFAULT '';
