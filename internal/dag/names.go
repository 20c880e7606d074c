package dag

import (
	"hash/maphash"
	"math/bits"
)

// nameTable maps step names to their indices. It is an open-addressing
// hash table with linear probing over a []int32 (index+1, 0 = empty),
// which on the 1,000-step benchmark is several times cheaper to build and
// query than a map[string]int and allocates a fifth of the memory.
//
// It first hashes only the length and the first and last eight bytes of a
// name, which is enough to tell typical step names apart. If names defeat
// that (a probe sequence grows long), the table is rebuilt with a hash of
// the whole name, so the worst case stays linear.
type nameTable struct {
	slots []int32
	mask  uint64
	full  bool // hash whole names (after the quick hash proved weak)
}

// maxProbe is the probe length at which the quick hash is abandoned.
const maxProbe = 24

var tableSeed = maphash.MakeSeed()

// tableSize returns the number of slots for n names: a power of two at
// least 2n (load factor at most 1/2) and at least 16.
func tableSize(n int) int {
	size := 16
	for size < 2*n {
		size <<= 1
	}
	return size
}

// init prepares the table to hold n names in slots, which must be zeroed
// and of length tableSize(n).
func (t *nameTable) init(slots []int32) {
	t.slots = slots
	t.mask = uint64(len(slots) - 1)
	t.full = false
}

// insert adds names[i], given that names[:i] are in the table, and reports
// false if an equal name is already present.
func (t *nameTable) insert(names []string, i int) bool {
	name := names[i]
	for probe, h := 0, t.slot(name); ; probe, h = probe+1, (h+1)&t.mask {
		v := t.slots[h]
		if v == 0 {
			t.slots[h] = int32(i + 1)
			return true
		}
		if names[v-1] == name {
			return false
		}
		if probe == maxProbe && !t.full {
			t.rehashFull(names[:i])
			return t.insert(names, i)
		}
	}
}

// rehashFull switches to hashing whole names and re-inserts names, which
// are known to be distinct.
func (t *nameTable) rehashFull(names []string) {
	t.full = true
	clear(t.slots)
	for i := range names {
		t.insert(names, i)
	}
}

// lookup returns the index of name, or -1. It is the hot path of New.
func (t *nameTable) lookup(names []string, name string) int {
	if t.slots == nil {
		return -1
	}
	for h := t.slot(name); ; h = (h + 1) & t.mask {
		v := t.slots[h]
		if v == 0 {
			return -1
		}
		if names[v-1] == name {
			return int(v - 1)
		}
	}
}

// slot is the first slot to probe for name, for insert and lookup (the
// hot path of New). Names of eight bytes or more are hashed here, as
// quickHash would but without its branch for short names; shorter ones,
// and all once the table hashes whole names, by hash.
func (t *nameTable) slot(name string) uint64 {
	if n := len(name); n >= 8 && !t.full {
		hi, lo := bits.Mul64(load64(name)^0x9e3779b97f4a7c15, load64(name[n-8:])^(uint64(n)*0xbf58476d1ce4e5b9))
		return (hi ^ lo) & t.mask
	}
	return t.hash(name) & t.mask
}

// hash is the table's hash function: quickHash, or maphash once the table
// has switched to hashing whole names.
func (t *nameTable) hash(s string) uint64 {
	if t.full {
		return maphash.String(tableSeed, s)
	}
	return quickHash(s)
}

// quickHash mixes the length and the first and last eight bytes of s.
func quickHash(s string) uint64 {
	n := len(s)
	var a, b uint64
	if n >= 8 {
		a = load64(s)
		b = load64(s[n-8:])
	} else {
		for i := 0; i < n; i++ {
			a = a<<8 | uint64(s[i])
		}
	}
	hi, lo := bits.Mul64(a^0x9e3779b97f4a7c15, b^(uint64(n)*0xbf58476d1ce4e5b9))
	return hi ^ lo
}

// load64 reads the first eight bytes of s as a little-endian integer (the
// compiler turns this into a single load).
func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}
