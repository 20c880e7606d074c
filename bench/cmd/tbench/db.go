package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/tasker-go/tasker/taskerdriver/taskerpgx"
)

// benchDB is the fresh database of one run.
type benchDB struct {
	adminURL string
	name     string
	url      string        // connection URL of the benchmark database
	pool     *pgxpool.Pool // the coordinator's own connections (resets, polling)
}

// createDatabase creates a database with a unique name on the server of
// adminURL and connects to it.
func createDatabase(ctx context.Context, adminURL string) (*benchDB, error) {
	u, err := url.Parse(adminURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("-database must be a postgres:// URL, got %q", adminURL)
	}
	name := fmt.Sprintf("tbench_%d_%d", time.Now().Unix(), os.Getpid())
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", adminURL, err)
	}
	defer func() { _ = admin.Close(ctx) }()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u.Path = "/" + name
	db := &benchDB{adminURL: adminURL, name: name, url: u.String()}
	if db.pool, err = pgxpool.New(ctx, db.url); err != nil {
		_ = db.drop(ctx)
		return nil, err
	}
	return db, nil
}

// drop closes the coordinator's pool and drops the database, ending any
// session left on it.
func (db *benchDB) drop(ctx context.Context) error {
	db.pool.Close()
	admin, err := pgx.Connect(ctx, db.adminURL)
	if err != nil {
		return err
	}
	defer func() { _ = admin.Close(ctx) }()
	_, err = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db.name}.Sanitize()+" WITH (FORCE)")
	return err
}

// serverInfo describes the server and the settings that decide commit cost.
func (db *benchDB) serverInfo(ctx context.Context) (string, error) {
	var version, fsync, syncCommit, sharedBuffers string
	err := db.pool.QueryRow(ctx, `SELECT version(), current_setting('fsync'),
		current_setting('synchronous_commit'), current_setting('shared_buffers')`).Scan(&version, &fsync, &syncCommit, &sharedBuffers)
	return fmt.Sprintf("%s; fsync=%s synchronous_commit=%s shared_buffers=%s", version, fsync, syncCommit, sharedBuffers), err
}

// migrate installs Tasker's schema and, when withRiver, River's.
func (db *benchDB) migrate(ctx context.Context, withRiver bool) error {
	d := taskerpgx.New(db.pool)
	if err := d.Migrate(ctx); err != nil {
		return fmt.Errorf("tasker migrate: %w", err)
	}
	if !withRiver {
		return nil
	}
	m, err := rivermigrate.New(riverpgxv5.New(db.pool), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrate: %w", err)
	}
	return nil
}

// reset empties the task and job tables so that every measurement starts
// from the same (empty) state.
func (db *benchDB) reset(ctx context.Context) error {
	if _, err := db.pool.Exec(ctx, `TRUNCATE tasker_tasks, tasker_workflow_steps, tasker_workflow_step_edges,
		tasker_task_transitions, tasker_workflow_step_transitions CASCADE`); err != nil {
		return err
	}
	var river bool
	if err := db.pool.QueryRow(ctx, `SELECT to_regclass('river_job') IS NOT NULL`).Scan(&river); err != nil {
		return err
	}
	if river {
		if _, err := db.pool.Exec(ctx, `TRUNCATE river_job`); err != nil {
			return err
		}
	}
	_, err := db.pool.Exec(ctx, `VACUUM ANALYZE`)
	return err
}
