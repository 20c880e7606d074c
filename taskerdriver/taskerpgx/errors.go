package taskerpgx

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tasker-go/tasker/internal/driverkit"
	"github.com/tasker-go/tasker/taskerdriver"
)

// valueRejected maps PostgreSQL refusing a value (SQL state class 22, data
// exception, or 54, program limit exceeded) to a
// *taskerdriver.ValueRejectedError. The guard of deferred task moves
// (lockedMovesGuard), which raises its error through a failed cast (class
// 22) for want of RAISE outside PL/pgSQL, is a state conflict instead.
func valueRejected(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && strings.Contains(pe.Message, lockedMovesGuard) {
		return fmt.Errorf("postgres: %w: %s", taskerdriver.ErrStateConflict, pe.Message)
	}
	return driverkit.ValueRejected(err, func(pe *pgconn.PgError) (string, string, bool) {
		return pe.Message, pe.Code, strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "54")
	})
}

// down reports whether err means PostgreSQL cannot be reached or did not
// answer in time: a failed connection, a network error or timeout, a
// connection closed under a query, SQL state class 08 (connection
// exception), 57P01-57P03 (the server shutting down, crashed or starting)
// or 53300 (too many connections).
func down(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || pgconn.Timeout(err) || errors.Is(err, pgconn.ErrConnClosed) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "57P01", "57P02", "57P03", "53300":
			return true
		}
		return strings.HasPrefix(pe.Code, "08")
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// unavailable marks err as a *taskerdriver.UnavailableError when the
// database is down (see down).
func unavailable(err error) error { return driverkit.Unavailable(err, down) }
