package taskerhttp_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOversizedBodyGets413 sends a 12 MB body to POST /tasker/tasks over a
// plain connection, writing all of it before reading: the 413 answer must
// arrive (the server reads and discards the rest of the body) instead of a
// connection reset.
func TestOversizedBodyGets413(t *testing.T) {
	e := newEnv(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	const size = 12 << 20
	body := `{"name": "dummy_task", "context": {"pad": "` + strings.Repeat("x", size) + `"}}`
	_, err = fmt.Fprintf(conn, "POST /tasker/tasks HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		strings.TrimPrefix(e.srv.URL, "http://"), len(body))
	require.NoError(t, err)
	_, err = io.WriteString(conn, body)
	require.NoError(t, err, "the server reset the connection while the body was sent")
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, "no answer to an oversized body")
	defer res.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Contains(t, string(b), "payload_too_large")
}
