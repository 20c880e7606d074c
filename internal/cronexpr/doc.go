// Package cronexpr parses the schedule expressions of Tasker's schedules
// and computes their fire times: standard cron (5 fields, or 6 with
// seconds first), the descriptors @yearly, @annually, @monthly, @weekly,
// @daily, @midnight and @hourly, and @every DURATION. Fire times are
// computed on the wall clock of a time zone, with one rule for daylight
// saving time (see Schedule.Next). It imports only the standard library
// (and embeds the time zone database, so that every IANA zone loads on
// any machine).
package cronexpr
