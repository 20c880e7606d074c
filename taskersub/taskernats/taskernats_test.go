package taskernats_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskersub"
	_ "github.com/tasker-go/tasker/taskersub/taskernats"
)

// Importing the package registers type "nats" and its config checks.
func TestNATSConfig(t *testing.T) {
	ok := []taskersub.Subscription{{Name: "bus", Type: "nats", Config: map[string]any{"url": "nats://127.0.0.1:4222", "stream": "S", "timeout": "2s", "max_attempts": 3}}}
	require.NoError(t, taskersub.Validate(ok))
	for want, cfg := range map[string]map[string]any{
		"config.colour is unknown":               {"colour": "red"},
		"config.url must be a nats:// or tls://": {"url": "http://x"},
		"config.timeout \"x\" is not a positive": {"timeout": "x"},
		"config.max_attempts must be a whole":    {"max_attempts": -1},
	} {
		err := taskersub.Validate([]taskersub.Subscription{{Name: "bus", Type: "nats", Config: cfg}})
		require.ErrorContains(t, err, want)
	}
}
