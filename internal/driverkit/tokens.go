package driverkit

import (
	"fmt"

	"github.com/tasker-go/tasker/taskerdriver"
)

// TokenColumns are the columns of tasker_api_tokens every token query
// selects, in the order the drivers scan them.
const TokenColumns = `id, name, lookup_id, secret_hash, permissions, created_by, created_at, expires_at, revoked_at`

// TokenLiveNameIndex is the unique index on the names of the tokens not
// revoked; a write that breaks it is an ErrAlreadyExists.
const TokenLiveNameIndex = "tasker_api_tokens_live_name"

// PermissionsJSON encodes a token's permissions for its permissions column
// (never null).
func PermissionsJSON(perms []string) (string, error) { return listJSON(perms) }

// ScannedToken completes a token read from a row: its permissions decoded
// from the permissions column (never nil).
func ScannedToken(t *taskerdriver.Token, perms []byte) error {
	if err := decodeList(perms, &t.Permissions); err != nil {
		return fmt.Errorf("api token %d permissions: %w", t.ID, err)
	}
	return nil
}

// TokenAnyQuery tells whether any API token exists (revoked or not).
const TokenAnyQuery = `SELECT EXISTS (SELECT 1 FROM tasker_api_tokens)`

// TokenAny is Executor.TokenAny: exists runs TokenAnyQuery in the driver's
// database; driver names it in the error.
func TokenAny(driver string, exists func(query string) (bool, error)) (bool, error) {
	ok, err := exists(TokenAnyQuery)
	if err != nil {
		return false, fmt.Errorf("%s: token any: %w", driver, err)
	}
	return ok, nil
}

// TokenNameTaken is the error of a TokenInsert whose name a token not
// revoked holds.
func TokenNameTaken(name string) error {
	return fmt.Errorf("%w: an api token named %q that is not revoked", taskerdriver.ErrAlreadyExists, name)
}
