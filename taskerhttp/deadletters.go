package taskerhttp

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// maxDeadLetters bounds one page of GET /tasker/dead_letters.
const maxDeadLetters = 1000

// listDeadLetters answers GET /tasker/dead_letters?subscription=&limit=:
// the events durable subscriptions gave up on, newest first, with their
// payload and last error.
func (s *server) listDeadLetters(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit := 100
	if err := limitParam(q, "limit", maxDeadLetters, &limit); err != nil {
		return err
	}
	msgs, err := s.c.DeadLetters(r.Context(), q.Get("subscription"), limit)
	if err != nil {
		return err
	}
	msgs = nonNil(msgs)
	writeJSON(w, http.StatusOK, map[string]any{"dead_letters": msgs, "count": len(msgs)})
	return nil
}

// replayDeadLetters answers POST /tasker/dead_letters/replay {"ids": [...]}
// or {"all": true}: the dead letters are sent again with fresh attempts.
func (s *server) replayDeadLetters(w http.ResponseWriter, r *http.Request) error {
	d, err := s.readFields(w, r, "ids", "all")
	if err != nil {
		return err
	}
	var ids []int64
	if d.has("ids") {
		if err := json.Unmarshal(d.m["ids"], &ids); err != nil || ids == nil {
			d.problem("ids", "must be an array of dead letter ids (integers), such as [12, 15]")
		} else if len(ids) == 0 {
			d.problem("ids", "is empty: name the dead letters to replay, or send {\"all\": true}")
		}
	}
	all := d.has("all") && bytes.Equal(bytes.TrimSpace(d.m["all"]), []byte("true"))
	switch {
	case d.has("all") && !all:
		d.problem("all", "must be true (or left out and ids given)")
	case all && d.has("ids"):
		d.problem("all", "goes without ids: send either {\"ids\": [...]} or {\"all\": true}")
	case !all && !d.has("ids"):
		d.problem("ids", "is required: send {\"ids\": [...]} to replay those dead letters, or {\"all\": true} to replay every one")
	}
	if err := d.err(); err != nil {
		return err
	}
	n, err := s.c.ReplayDeadLetters(r.Context(), ids...)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"replayed": n})
	return nil
}
