package remoteworker_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskerhttp"
	"github.com/tasker-go/tasker/taskerwire"
)

// BenchmarkRemoteRoundTrip measures the engine's overhead of one remote
// step: from the claim request to the result recorded (step complete, task
// finalized), on each database, over the REST API (loopback HTTP, JSON) and
// through the Go API (the same calls without HTTP). The worker's own work is
// zero. A ready step is created before each iteration, outside the timing.
//
//	TASKER_TEST_DATABASE_URL=... go test -run '^$' -bench RemoteRoundTrip -benchtime 2000x ./remoteworker
func BenchmarkRemoteRoundTrip(b *testing.B) {
	for _, drv := range testdb.Drivers {
		for _, transport := range []string{"http", "go"} {
			b.Run(drv+"/"+transport, func(b *testing.B) {
				reg := tasker.NewRegistry()
				if err := reg.RegisterTemplate(&tasker.TaskTemplate{Name: "one", Steps: []tasker.StepTemplate{
					{Name: "work", Handler: "remote", HandlerConfig: map[string]any{"queue": "bench"}},
				}}, tasker.RegisterOptions{}); err != nil {
					b.Fatal(err)
				}
				c, err := tasker.NewClient(b.Context(), testdb.Open(b), &tasker.Config{Registry: reg, Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					b.Fatal(err)
				}
				srv := httptest.NewServer(taskerhttp.NewHandler(c, &taskerhttp.Options{WorkerToken: token}))
				defer srv.Close()
				roundTrip := goRoundTrip(b, c)
				if transport == "http" {
					roundTrip = httpRoundTrip(b, srv.URL)
				}
				lat := make([]time.Duration, 0, b.N)
				b.ResetTimer()
				for range b.N {
					b.StopTimer()
					if _, err := c.CreateTask(b.Context(), &tasker.TaskRequest{Name: "one"}); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					start := time.Now()
					roundTrip()
					lat = append(lat, time.Since(start))
				}
				b.StopTimer()
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds()), "p99-µs")
			})
		}
	}
}

func goRoundTrip(b *testing.B, c *tasker.Client) func() {
	return func() {
		steps, err := c.ClaimRemoteSteps(b.Context(), &taskerwire.ClaimRequest{WorkerID: "bench", Queues: []string{"bench"}})
		if err != nil || len(steps) != 1 {
			b.Fatalf("claim: %d steps, %v", len(steps), err)
		}
		s, err := c.FinishRemoteStep(b.Context(), &taskerwire.Result{WorkerID: "bench", StepID: steps[0].StepID, Attempt: steps[0].Attempt,
			Results: json.RawMessage(`{"ok":true}`)})
		if err != nil || s.State != tasker.StateComplete {
			b.Fatalf("finish: %v", err)
		}
	}
}

func httpRoundTrip(b *testing.B, url string) func() {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	post := func(path string, body any, out any) {
		raw, _ := json.Marshal(body)
		req, _ := http.NewRequestWithContext(b.Context(), http.MethodPost, url+path, bytes.NewReader(raw))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = res.Body.Close() }()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("%s: HTTP %d", path, res.StatusCode)
		}
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			b.Fatal(err)
		}
	}
	return func() {
		var claimed struct {
			Steps []struct {
				StepID  int64 `json:"step_id"`
				Attempt int   `json:"attempt"`
			} `json:"steps"`
		}
		post("/tasker/workers/claim", map[string]any{"worker_id": "bench", "queues": []string{"bench"}}, &claimed)
		if len(claimed.Steps) != 1 {
			b.Fatalf("claimed %d steps", len(claimed.Steps))
		}
		var done struct {
			Step struct {
				Status string `json:"status"`
			} `json:"step"`
		}
		s := claimed.Steps[0]
		post(fmt.Sprintf("/tasker/workers/steps/%d/result", s.StepID), map[string]any{"worker_id": "bench", "attempt": s.Attempt, "results": map[string]bool{"ok": true}}, &done)
		if done.Step.Status != "complete" {
			b.Fatalf("step %s", done.Step.Status)
		}
	}
}
