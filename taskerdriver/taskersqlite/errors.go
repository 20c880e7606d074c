package taskersqlite

import (
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
