package exechandler

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTailBufferKeepsLastBytes(t *testing.T) {
	t.Parallel()
	var all strings.Builder
	b := newTailBuffer(16)
	require.Empty(t, b.String())
	// Writes of every size up to twice the ring, in a fixed pattern.
	for i := range 40 {
		chunk := strings.Repeat(string(rune('a'+i%26)), i%33)
		n, err := b.Write([]byte(chunk))
		require.NoError(t, err)
		require.Equal(t, len(chunk), n)
		all.WriteString(chunk)
		want := all.String()
		want = want[max(0, len(want)-16):]
		require.Equal(t, want, b.String(), "after write %d", i)
	}
}

func TestTailBufferDropsCutRune(t *testing.T) {
	t.Parallel()
	b := newTailBuffer(4)
	_, _ = b.Write([]byte("xé€")) // x, 2 bytes, 3 bytes: the last 4 bytes cut é
	require.Equal(t, "€", b.String())
}

func TestHeadBuffer(t *testing.T) {
	t.Parallel()
	b := newHeadBuffer(5)
	for _, s := range []string{"ab", "cdef", "ghi"} {
		n, err := b.Write([]byte(s))
		require.NoError(t, err)
		require.Equal(t, len(s), n)
	}
	kept, truncated, total := b.bytes()
	require.Equal(t, "abcde", string(kept))
	require.True(t, truncated)
	require.Equal(t, int64(9), total)

	b = newHeadBuffer(5)
	_, _ = b.Write([]byte("abcde"))
	kept, truncated, total = b.bytes()
	require.Equal(t, "abcde", string(kept))
	require.False(t, truncated)
	require.Equal(t, int64(5), total)
}

func TestMessageTail(t *testing.T) {
	t.Parallel()
	require.Empty(t, messageTail(" \n"))
	require.Equal(t, "short error", messageTail("\nshort error\n\n"))

	long := strings.Repeat("x", 600)
	require.Equal(t, "..."+strings.Repeat("x", maxMessageTail), messageTail(long))

	lines := strings.Repeat("an early line\n", 50) + "the last line\n"
	got := messageTail(lines)
	require.True(t, strings.HasPrefix(got, "...an early line\n"), got)
	require.True(t, strings.HasSuffix(got, "an early line\nthe last line"), got)
	require.LessOrEqual(t, len(got), maxMessageTail+3)

	// A cut inside a multi-byte rune drops its remaining bytes.
	runes := strings.Repeat("é", 300) // 600 bytes: the cut falls on a rune start
	require.Equal(t, "..."+strings.Repeat("é", 250), messageTail(runes))
	require.Equal(t, "..."+strings.Repeat("é", 249)+"x", messageTail(runes+"x")) // the cut falls inside a rune
}

func TestTrimPartialRuneEnd(t *testing.T) {
	t.Parallel()
	require.Equal(t, "ab", string(trimPartialRuneEnd([]byte("ab"))))
	require.Equal(t, "a", string(trimPartialRuneEnd([]byte("aé")[:2])))
	require.Equal(t, "a", string(trimPartialRuneEnd([]byte("a€")[:3])))
	require.Equal(t, "a€", string(trimPartialRuneEnd([]byte("a€"))))
	require.Empty(t, string(trimPartialRuneEnd(nil)))
}
