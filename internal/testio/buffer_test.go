package testio_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/testio"
)

// Writers on several goroutines and a reader share one Buffer (run with
// -race); every write lands whole.
func TestBufferConcurrentWriters(t *testing.T) {
	t.Parallel()
	var b testio.Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if _, err := b.Write([]byte("line\n")); err != nil {
					t.Error(err)
				}
				_ = b.String()
			}
		})
	}
	wg.Wait()
	require.Equal(t, strings.Repeat("line\n", 800), b.String())
	got := b.Bytes()
	got[0] = 'X'
	require.Equal(t, byte('l'), b.Bytes()[0], "Bytes returns a copy")
}
