package tasker

import (
	"log/slog"
	"testing"
	"time"
)

// The cost of publishing an event nobody listens to, per event: it is paid
// for every event of the engine's hot path (a 4-step task publishes about
// 15). See docs/events.md.
func BenchmarkPublishUnsubscribed(b *testing.B) {
	ev := &Event{Name: EventStepInitializeRequested, Task: &Task{ID: 1}, At: time.Now()}
	for _, tc := range []struct {
		name     string
		patterns [][]string
	}{
		{"none", nil},
		{"other-events", [][]string{{"order.*"}, {"task.completed"}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			bus := newEventBus(slog.New(slog.DiscardHandler), nil)
			for _, p := range tc.patterns {
				_, stop := bus.subscribe(p)
				defer stop()
			}
			b.ReportAllocs()
			for b.Loop() {
				bus.publish(ev)
			}
		})
	}
}
