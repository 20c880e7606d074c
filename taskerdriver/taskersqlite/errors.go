package taskersqlite

import (
	"errors"
	"strconv"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tasker-go/tasker/internal/driverkit"
)

// valueRejected maps SQLite refusing a value (SQLITE_TOOBIG: a string or
// blob over its length limit) to a *taskerdriver.ValueRejectedError.
func valueRejected(err error) error {
	return driverkit.ValueRejected(err, func(se *sqlite.Error) (string, string, bool) {
		return se.Error(), strconv.Itoa(se.Code()), se.Code()&0xff == sqlite3.SQLITE_TOOBIG
	})
}

// down reports whether err means the SQLite database cannot be used now:
// locked by another connection or process beyond the busy timeout
// (SQLITE_BUSY, SQLITE_LOCKED), or its file cannot be opened
// (SQLITE_CANTOPEN).
func down(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN:
		return true
	}
	return false
}

// unavailable marks err as a *taskerdriver.UnavailableError when the
// database cannot be used now (see down) or a deadline passed.
func unavailable(err error) error { return driverkit.Unavailable(err, down) }
