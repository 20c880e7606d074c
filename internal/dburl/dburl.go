package dburl

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskerdriver/taskerpgx"
	"github.com/tasker-go/tasker/taskerdriver/taskersqlite"
)

// Default is the database used when none is configured: an embedded SQLite
// file in the working directory.
const Default = "sqlite://tasker.db"

// SQLiteFile returns the file of a SQLite database URL, and false for a
// database of another kind.
func SQLiteFile(url string) (string, bool) {
	if url == "" {
		url = Default
	}
	switch {
	case strings.HasPrefix(url, "sqlite://"):
		path, _, _ := strings.Cut(strings.TrimPrefix(url, "sqlite://"), "?")
		return path, path != ""
	case strings.HasPrefix(url, "file:"):
		path, _, _ := strings.Cut(strings.TrimPrefix(url, "file:"), "?")
		return path, true
	case !strings.Contains(url, "://"):
		return url, true
	}
	return "", false
}

// Open opens the driver for url.
func Open(ctx context.Context, url string) (taskerdriver.Driver, error) {
	if url == "" {
		url = Default
	}
	switch {
	case strings.HasPrefix(url, "sqlite://"):
		path := strings.TrimPrefix(url, "sqlite://")
		path, _, _ = strings.Cut(path, "?")
		if path == "" {
			return nil, errors.New("database URL " + url + " has no file: use sqlite://tasker.db (relative) or sqlite:///abs/path.db")
		}
		return taskersqlite.Open(path)
	case strings.HasPrefix(url, "file:"):
		return taskersqlite.Open(strings.TrimPrefix(url, "file:"))
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return taskerpgx.Open(ctx, url)
	case !strings.Contains(url, "://"):
		return taskersqlite.Open(url)
	}
	scheme, _, _ := strings.Cut(url, "://")
	return nil, fmt.Errorf("database URL scheme %q is not supported: use sqlite://FILE or postgres://USER@HOST/DB", scheme)
}
