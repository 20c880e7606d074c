// Package driverkit holds what every taskerdriver implementation shares
// besides the seam itself: the procedures of the executor's multi-statement
// operations (recording attempts, changing step and task states, completing
// a claim, listing steps, tasks, transitions, templates and annotations,
// writing schedules and their fires), the rows they write
// (transitions with their sort keys and metadata), their errors (lost
// leases, state conflicts, values the database refuses) and encodings (step
// errors, tags, raw JSON parameters, API token permissions, annotations and
// their filter), the write-transaction helper, the executor wrapper that marks outages
// (Intercept, Guard; the conformance suite records calls with it too), the
// in-process notification hub, and embedded migrations. Each procedure takes the driver's SQL as a
// small interface (Finisher, StepMover, TaskMover) or as functions, so a
// driver keeps only its SQL and the mechanics of its database.
//
// Imports: the standard library, taskerdriver, taskertype and
// internal/jsonclean (the numbers the databases store); never a database
// library and never a driver.
package driverkit
