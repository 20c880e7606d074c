package taskernats_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskerdriver"
	_ "github.com/tasker-go/tasker/taskersub/taskernats" // registers type "nats"
)

// This test runs a real NATS server (embedded, with JetStream), so it lives
// in the tests module: the main module does not require nats-server.

func TestMain(m *testing.M) { testdb.Main(m) }

// eachDriver runs fn as a parallel subtest per driver (see testdb).
func eachDriver(t *testing.T, fn func(t *testing.T)) { t.Helper(); testdb.EachDriver(t, fn) }

// openTestDriver opens a fresh, empty database of the test's driver.
func openTestDriver(t testing.TB) taskerdriver.Driver { t.Helper(); return testdb.Open(t) }

// waitUntil is testdb.WaitUntil.
var waitUntil = testdb.WaitUntil

// NATS subscriptions publish each event to JetStream (a real, embedded
// server), once per event thanks to the message id.
func TestNATSDurableDelivery(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		srv, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
		require.NoError(t, err)
		srv.Start()
		t.Cleanup(srv.Shutdown)
		require.True(t, srv.ReadyForConnections(10*time.Second))

		reg := tasker.NewRegistry()
		reg.MustRegisterHandler("noop", tasker.StepHandlerFunc(func(context.Context, *tasker.StepContext) (any, error) { return nil, nil }))
		require.NoError(t, reg.RegisterTemplate(&tasker.TaskTemplate{Name: "one", Steps: []tasker.StepTemplate{{Name: "a", Handler: "noop"}}}, tasker.RegisterOptions{}))
		ctx := t.Context()
		c, err := tasker.NewClient(ctx, openTestDriver(t), &tasker.Config{Registry: reg, Logger: slog.New(slog.DiscardHandler),
			Subscriptions: []tasker.Subscription{{Name: "bus", Type: "nats", Events: []string{"task.*"},
				Config: map[string]any{"url": srv.ClientURL(), "stream": "TASKER", "subject": "tasker.events.{name}"}}}})
		require.NoError(t, err)
		require.NoError(t, c.Start(ctx))
		res, err := c.CreateTask(ctx, &tasker.TaskRequest{Name: "one"})
		require.NoError(t, err)
		_, err = c.WaitTask(ctx, res.Task.ID)
		require.NoError(t, err)

		nc, err := nats.Connect(srv.ClientURL())
		require.NoError(t, err)
		defer nc.Close()
		js, err := jetstream.New(nc)
		require.NoError(t, err)
		waitUntil(t, "3 task events in the stream", func() bool {
			st, err := js.Stream(ctx, "TASKER")
			if err != nil {
				return false
			}
			info, err := st.Info(ctx)
			return err == nil && info.State.Msgs == 3
		})
		require.NoError(t, c.Stop(ctx))
		cons, err := js.OrderedConsumer(ctx, "TASKER", jetstream.OrderedConsumerConfig{})
		require.NoError(t, err)
		var subjects []string
		for range 3 {
			msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
			require.NoError(t, err)
			subjects = append(subjects, msg.Subject())
			var body struct {
				ID, Name string
				Payload  tasker.Event
			}
			require.NoError(t, json.Unmarshal(msg.Data(), &body))
			require.Equal(t, res.Task.ID, body.Payload.Task.ID)
			require.Equal(t, "tasker.events."+body.Name, msg.Subject())
			require.Equal(t, body.ID, msg.Headers().Get("Nats-Msg-Id"))
		}
		// Messages of one pass are sent concurrently: no order across events.
		require.ElementsMatch(t, []string{"tasker.events.task.initialize_requested", "tasker.events.task.start_requested", "tasker.events.task.completed"}, subjects)
	})
}
