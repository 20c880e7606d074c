// Package maintenance hosts the leader-only services: exactly one process
// at a time (the elected maintenance leader) runs them. A Maintainer elects
// (a database-backed lease with a term, taskerdriver.Executor.LeaderAttempt),
// and while it leads runs each Service every Interval, each in its own short
// transactions, so that a large retention delete never holds up a worker's
// claims on SQLite's single writer:
//
//   - Rescuer fails the attempts of in-progress steps whose lease expired
//     (kind worker_lost; the retry policy re-runs them), through the same
//     recorder as a worker's results;
//   - Cleaner deletes tasks that finished longer ago than the retention;
//   - StatisticsKeeper has a driver that keeps table statistics refresh
//     those its tables have outgrown, so that prepared statements are
//     planned again for the tables' size (taskerdriver.StatisticsKeeper);
//   - Scheduler fires the schedules (cron): one task per schedule and fire
//     time, guarded by a unique key per fire time and a compare-and-set of
//     the next fire time, so that even two leaders at once cannot
//     duplicate a fire. It is Timed: the leader runs it at each fire time,
//     not only every Interval.
//
// It may import the driver seam, taskertype, internal/recorder and
// internal/cronexpr; never the root package nor a driver.
package maintenance
