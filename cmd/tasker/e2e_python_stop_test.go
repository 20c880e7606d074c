//go:build linux

package main

// End-to-end test of issue 12 item 9: a Python worker told to stop (SIGTERM)
// in the middle of its long poll exits at once and claims nothing after the
// signal. Linux only: it reads /proc to see the long poll.

import (
	"bufio"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/proctest"
)

// hasConnectionTo reports whether process pid has an established TCP
// connection to port on the loopback interface.
func hasConnectionTo(pid, port int) bool {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return false
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	want := fmt.Sprintf(":%04X", port)
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) > 9 && strings.HasSuffix(fields[2], want) && fields[3] == "01" && inodes[fields[9]] {
				_ = f.Close()
				return true
			}
		}
		_ = f.Close()
	}
	return false
}

func TestE2EPythonWorkerStopsWhenTold(t *testing.T) {
	py, srv := startPythonServe(t)
	u, err := url.Parse(srv.base)
	require.NoError(t, err)
	port, err := strconv.Atoi(u.Port())
	require.NoError(t, err)
	hc := &http.Client{Timeout: 10 * time.Second}

	w := startPythonWorker(t, py, srv.base, "py-stop")
	exited := make(chan error, 1)
	go func() { exited <- w.Wait() }()
	// With no step to claim, the worker's one connection is its long poll
	// (20 s by default).
	require.True(t, proctest.Eventually(30*time.Second, func() bool { return hasConnectionTo(w.Process.Pid, port) }),
		"the Python worker did not start its long poll within 30s")

	require.NoError(t, w.Process.Signal(syscall.SIGTERM))
	signalled := time.Now()
	// A step of its queue becomes ready right after the signal: a worker
	// still polling would claim and run it.
	id := createRemoteBilling(t, hc, srv.base, map[string]any{"order_id": 9, "amount": 1})

	select {
	case err := <-exited:
		require.NoError(t, err, "the worker exits with status 0 on SIGTERM")
		t.Logf("the Python worker exited %s after SIGTERM", time.Since(signalled).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatal("the Python worker did not exit within 5s of SIGTERM (mid long poll)")
	}
	steps := waitTask(t, srv.base, id, "validate_order complete", func(_ string, s map[string]e2eStep) bool {
		return s["validate_order"].Status == "complete"
	})
	// The charge step has been ready since validate_order completed; give a
	// worker that kept claiming the time to show it (its claims wake at once
	// when a step becomes ready), then check nobody took it.
	require.False(t, proctest.Eventually(2*time.Second, func() bool {
		steps = waitTask(t, srv.base, id, "read", func(string, map[string]e2eStep) bool { return true })
		return steps["charge"].Attempts > 0 || steps["charge"].LeaseOwner != ""
	}), "the charge step was claimed after the signal: %+v", steps["charge"])
	require.Equal(t, 0, steps["charge"].Attempts)
}
