package exechandler

import "sync"

// headBuffer keeps the first limit bytes written to it and counts the rest,
// which it discards: the command's output keeps being drained, so a command
// writing more than limit bytes never blocks on a full pipe.
type headBuffer struct {
	mu    sync.Mutex
	limit int
	buf   []byte
	total int64
}

func newHeadBuffer(limit int) *headBuffer {
	return &headBuffer{limit: limit, buf: make([]byte, 0, min(limit, 64<<10))}
}

// Write keeps what fits under the limit and never fails.
func (b *headBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.total += int64(len(p))
	if room := b.limit - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// bytes returns the kept bytes, whether some were dropped, and the total
// number of bytes written.
func (b *headBuffer) bytes() (kept []byte, truncated bool, total int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf, b.total > int64(len(b.buf)), b.total
}

// tailBuffer keeps the last size bytes written to it in a ring.
type tailBuffer struct {
	mu   sync.Mutex
	ring []byte
	next int  // index of the next byte to write
	full bool // the ring has wrapped
}

func newTailBuffer(size int) *tailBuffer {
	return &tailBuffer{ring: make([]byte, size)}
}

// Write keeps the last bytes of p and never fails.
func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(p)
	if n >= len(b.ring) {
		copy(b.ring, p[n-len(b.ring):])
		b.next, b.full = 0, true
		return n, nil
	}
	for len(p) > 0 {
		c := copy(b.ring[b.next:], p)
		p = p[c:]
		b.next += c
		if b.next == len(b.ring) {
			b.next, b.full = 0, true
		}
	}
	return n, nil
}

// String returns the kept bytes; when earlier bytes were dropped, a UTF-8
// sequence cut at the start is dropped too.
func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.full {
		return string(b.ring[:b.next])
	}
	s := string(b.ring[b.next:]) + string(b.ring[:b.next])
	return trimPartialRune(s)
}
