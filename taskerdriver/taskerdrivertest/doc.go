// Package taskerdrivertest is the conformance suite every taskerdriver.Driver
// must pass. A driver's test calls Exercise with a constructor that returns a
// fresh, migrated, empty database for each case.
//
// The cases are grouped by area, one file each: tasks.go (creation,
// identity, lists, updates, moves, progress, retention), steps.go (claims,
// leases, queues and wake-ups; recording attempts; step state changes),
// batches.go (StepFinishMany, TaskProgressMany, StepList) and service.go
// (leader election, the outbox, migrations, health counts, notifications,
// transactions). Every case talks to the driver through a recording
// executor (recorder.go, on driverkit.Intercept); after the cases, the
// suite fails if a method of taskerdriver.ExecutorTx was never called, so a
// method added to the seam needs a case (and an override in
// driverkit.Intercept).
//
// Imports: the standard library, testify, taskerdriver, taskertype and
// internal/driverkit; never a driver.
package taskerdrivertest
