package taskerpgx

import (
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tasker-go/tasker/internal/driverkit"
)

// valueRejected maps PostgreSQL refusing a value (SQL state class 22, data
// exception, or 54, program limit exceeded) to a
// *taskerdriver.ValueRejectedError.
func valueRejected(err error) error {
	return driverkit.ValueRejected(err, func(pe *pgconn.PgError) (string, string, bool) {
		return pe.Message, pe.Code, strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "54")
	})
}
