package taskerhttp_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskerhttp"
	"github.com/tasker-go/tasker/taskermetrics"
)

// GET /tasker/metrics needs tasker.metrics:index, and serves the metrics
// in the Prometheus text format, never cached.
func TestMetricsRoute(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		m := taskermetrics.New(&taskermetrics.Config{NoRuntime: true})
		e := newEnvFor(t, func(c *tasker.Client) *taskerhttp.Options {
			require.NoError(t, m.Attach(c))
			return &taskerhttp.Options{Authenticator: taskerhttp.NewAuthenticator(c, nil), Metrics: m}
		})
		reader := e.token(t, "scraper", "tasker.metrics:index")
		other := e.token(t, "operator", "tasker.task:index", "tasker.health_status:index")
		e.do("GET", "/tasker/metrics", nil).want(t, http.StatusUnauthorized)
		res := e.do("GET", "/tasker/metrics", nil, "Authorization", "Bearer "+other).want(t, http.StatusForbidden)
		require.Contains(t, res.json(t)["error"].(map[string]any)["message"], "tasker.metrics:index")

		res = e.do("GET", "/tasker/metrics", nil, "Authorization", "Bearer "+reader).want(t, http.StatusOK)
		require.True(t, strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain; version=0.0.4"), res.Header.Get("Content-Type"))
		require.Equal(t, "no-cache, no-store, must-revalidate", res.Header.Get("Cache-Control"))
		require.Contains(t, string(res.Body), "tasker_database_up 1\n")
		// The refused requests were counted, by route pattern.
		require.Contains(t, string(res.Body), `tasker_http_requests_total{code="403",method="GET",route="/tasker/metrics"} 1`)
	})
}

// Without Options.Metrics the route answers 404 with the fix.
func TestMetricsRouteDisabled(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t)
		res := e.do("GET", "/tasker/metrics", nil).want(t, http.StatusNotFound)
		require.Contains(t, res.json(t)["error"].(map[string]any)["message"], "taskerhttp.Options.Metrics")
	})
}
