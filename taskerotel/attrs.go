package taskerotel

import (
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
)

// The attribute rules of tracerProvider's spans, as the SDK applies them:
// a span attribute whose value is a slice or a map has its maps'
// duplicate keys resolved (the last value wins) and what lies deeper than
// AttributeValueDepthLimit emptied, then every string in it is truncated
// to AttributeValueLengthLimit characters (byte slices to as many bytes);
// event and link attributes are depth-limited (every value, scalars'
// slices too) and not truncated; a scope's attributes are depth-limited.

// normAttr applies the span attribute rules to kv.
func normAttr(kv attribute.KeyValue, depthLimit, lengthLimit int) attribute.KeyValue {
	switch kv.Value.Type() {
	case attribute.SLICE, attribute.MAP:
		kv.Value = normValue(kv.Value, depthLimit)
	}
	if lengthLimit >= 0 {
		kv.Value = truncateValue(kv.Value, lengthLimit)
	}
	return kv
}

// normValue resolves v's duplicate map keys and empties the slices and
// maps deeper than depth (depth 0: v itself; negative: no limit).
func normValue(v attribute.Value, depth int) attribute.Value {
	switch v.Type() {
	case attribute.BOOLSLICE, attribute.INT64SLICE, attribute.FLOAT64SLICE, attribute.STRINGSLICE, attribute.BYTESLICE:
		if depth == 0 {
			return attribute.Value{}
		}
	case attribute.SLICE:
		if depth == 0 {
			return attribute.Value{}
		}
		elems := v.AsSlice()
		for i := range elems {
			elems[i] = normValue(elems[i], depth-1)
		}
		return attribute.SliceValue(elems...)
	case attribute.MAP:
		if depth == 0 {
			return attribute.Value{}
		}
		kvs := v.AsMap() // sorted by key, equal keys in the order given
		out := kvs[:0]
		for i, kv := range kvs {
			if i+1 < len(kvs) && kvs[i+1].Key == kv.Key {
				continue // a later value of the same key wins
			}
			kv.Value = normValue(kv.Value, depth-1)
			out = append(out, kv)
		}
		return attribute.MapValue(out...)
	}
	return v
}

// normKeyValues depth-limits every value of kvs (kvs itself when nothing
// changes).
func normKeyValues(kvs []attribute.KeyValue, depthLimit int) []attribute.KeyValue {
	var out []attribute.KeyValue
	for i, kv := range kvs {
		switch kv.Value.Type() {
		case attribute.BOOLSLICE, attribute.INT64SLICE, attribute.FLOAT64SLICE, attribute.STRINGSLICE, attribute.BYTESLICE, attribute.SLICE, attribute.MAP:
			if out == nil {
				out = append(make([]attribute.KeyValue, 0, len(kvs)), kvs[:i]...)
			}
			kv.Value = normValue(kv.Value, depthLimit)
		}
		if out != nil {
			out = append(out, kv)
		}
	}
	if out == nil {
		return kvs
	}
	return out
}

// limitKeyValues applies the event and link attribute rules: values
// depth-limited, at most limit of them (negative: no limit); it returns
// them and how many were dropped.
func limitKeyValues(kvs []attribute.KeyValue, depthLimit, limit int) ([]attribute.KeyValue, int) {
	kvs = normKeyValues(kvs, depthLimit)
	switch {
	case limit == 0:
		return nil, len(kvs)
	case limit > 0 && len(kvs) > limit:
		return kvs[:limit], len(kvs) - limit
	}
	return kvs, 0
}

// dedupKeyValues leaves one attribute per key in kvs (in place), where
// the key first stood, with its last value.
func dedupKeyValues(kvs []attribute.KeyValue) []attribute.KeyValue {
	if len(kvs) > smallAttrs {
		at := make(map[attribute.Key]int, len(kvs))
		out := kvs[:0]
		for _, kv := range kvs {
			if i, ok := at[kv.Key]; ok {
				out[i] = kv
				continue
			}
			at[kv.Key] = len(out)
			out = append(out, kv)
		}
		clear(kvs[len(out):])
		return out
	}
	out := kvs[:0]
	for _, kv := range kvs {
		if i := indexOfKey(out, kv.Key); i >= 0 {
			out[i] = kv
			continue
		}
		out = append(out, kv)
	}
	clear(kvs[len(out):])
	return out
}

// smallAttrs is how many attributes a linear search by key handles before
// a map is cheaper.
const smallAttrs = 16

func indexOfKey(kvs []attribute.KeyValue, k attribute.Key) int {
	for i := range kvs {
		if kvs[i].Key == k {
			return i
		}
	}
	return -1
}

// truncateValue truncates the strings of v to limit characters and its
// byte slices to limit bytes, in slices and maps too.
func truncateValue(v attribute.Value, limit int) attribute.Value {
	switch v.Type() {
	case attribute.STRING:
		if s := v.AsString(); len(s) > limit {
			return attribute.StringValue(truncate(s, limit))
		}
	case attribute.BYTESLICE:
		if b := v.AsByteSlice(); len(b) > limit {
			return attribute.ByteSliceValue(b[:limit])
		}
	case attribute.STRINGSLICE:
		ss := v.AsStringSlice()
		changed := false
		for i, s := range ss {
			if len(s) > limit {
				ss[i], changed = truncate(s, limit), true
			}
		}
		if changed {
			return attribute.StringSliceValue(ss)
		}
	case attribute.SLICE:
		elems := v.AsSlice()
		for i := range elems {
			elems[i] = truncateValue(elems[i], limit)
		}
		return attribute.SliceValue(elems...)
	case attribute.MAP:
		kvs := v.AsMap()
		for i := range kvs {
			kvs[i].Value = truncateValue(kvs[i].Value, limit)
		}
		return attribute.MapValue(kvs...)
	}
	return v
}

// truncate keeps the first limit characters of s; when s is longer than
// that and not valid UTF-8, its invalid bytes are dropped and not counted.
func truncate(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	n := 0
	if utf8.ValidString(s) {
		for i := range s {
			if n == limit {
				return s[:i]
			}
			n++
		}
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s) && n < limit; {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			i++
			continue
		}
		b.WriteString(s[i : i+size])
		i += size
		n++
	}
	return b.String()
}
