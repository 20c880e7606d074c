package jsonclean

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Replacement stands in for a NUL character.
const Replacement = "\uFFFD"

// String replaces NUL characters and bytes that are not UTF-8 in s.
func String(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, Replacement), "\x00", Replacement)
}

// suspect reports whether raw holds something to clean: bytes that are not
// UTF-8, a \u0000 escape, or a \u escape of a surrogate that is not part of
// a pair. It scans string escapes exactly (an escaped backslash followed by
// "u0000" is no NUL).
func suspect(raw []byte) bool {
	if !utf8.Valid(raw) {
		return true
	}
	inString := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case !inString:
			inString = c == '"'
		case c == '"':
			inString = false
		case c == '\\' && i+1 < len(raw):
			if raw[i+1] != 'u' {
				i++ // a one-character escape
				continue
			}
			r, ok := hex4(raw, i+2)
			if !ok {
				return true // malformed: let the decoder judge
			}
			switch {
			case r == 0:
				return true
			case r >= 0xD800 && r <= 0xDBFF: // a high surrogate needs a low one next
				lo, ok := hex4(raw, i+8)
				if !ok || i+7 >= len(raw) || raw[i+6] != '\\' || raw[i+7] != 'u' || lo < 0xDC00 || lo > 0xDFFF {
					return true
				}
				i += 11
			case r >= 0xDC00 && r <= 0xDFFF: // a low surrogate alone
				return true
			default:
				i += 5
			}
		}
	}
	return false
}

// hex4 reads four hex digits at raw[i:].
func hex4(raw []byte, i int) (rune, bool) {
	if i+4 > len(raw) {
		return 0, false
	}
	var r rune
	for _, c := range raw[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// Storable reports whether a JSON document can be stored as it is: no NUL
// character, no byte that is not UTF-8, no lone surrogate.
func Storable(raw json.RawMessage) bool {
	return !suspect(raw)
}

// HasNUL reports whether a JSON document holds a NUL character in a string
// or an object key.
func HasNUL(raw json.RawMessage) bool {
	if !bytes.Contains(raw, []byte(`\u0000`)) {
		return false // the fast path: a NUL can only be written \u0000 in JSON
	}
	v, ok := decode(raw)
	return ok && hasNUL(v)
}

// JSON returns raw with NUL characters, bytes that are not UTF-8 and lone
// surrogates in strings and keys replaced by U+FFFD (encoding/json decodes
// the last two that way). Raw that is not valid JSON, or needs nothing, is
// returned unchanged.
func JSON(raw json.RawMessage) json.RawMessage {
	if !suspect(raw) {
		return raw
	}
	v, ok := decode(raw)
	if !ok {
		return raw
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(clean(v)); err != nil {
		return raw
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

func decode(raw json.RawMessage) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	return v, true
}

func hasNUL(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.IndexByte(x, 0) >= 0
	case []any:
		for _, e := range x {
			if hasNUL(e) {
				return true
			}
		}
	case map[string]any:
		for k, e := range x {
			if strings.IndexByte(k, 0) >= 0 || hasNUL(e) {
				return true
			}
		}
	}
	return false
}

func clean(v any) any {
	switch x := v.(type) {
	case string:
		return String(x)
	case []any:
		for i, e := range x {
			x[i] = clean(e)
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[String(k)] = clean(e)
		}
		return out
	}
	return v
}

// The range of PostgreSQL's numeric type, in which jsonb stores numbers: at
// most MaxIntegerDigits digits before the decimal point and MaxFractionDigits
// after it (trailing zeros of a fraction and an exponent count: 0.0e-99999 has
// 100,000). SQLite stores any number; both drivers are held to this range.
const (
	MaxIntegerDigits  = 131072
	MaxFractionDigits = 16383
)

// BadNumber returns the first number of a JSON document outside the range
// that PostgreSQL can store (cut to 40 characters), or "" when there is none.
// Raw that is not valid JSON may give a wrong answer.
func BadNumber(raw []byte) string {
	inString := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case inString:
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '-' || (c >= '0' && c <= '9'):
			j := i + 1
			for j < len(raw) && strings.IndexByte("0123456789.eE+-", raw[j]) >= 0 {
				j++
			}
			if !numberStorable(raw[i:j]) {
				n := raw[i:j]
				if len(n) > 40 {
					return string(n[:37]) + "..."
				}
				return string(n)
			}
			i = j - 1
		}
	}
	return ""
}

// numberStorable reports whether the JSON number n is within numeric's range.
func numberStorable(n []byte) bool {
	if len(n) > 0 && n[0] == '-' {
		n = n[1:]
	}
	mant, exp := n, int64(0)
	if k := bytes.IndexAny(n, "eE"); k >= 0 {
		mant = n[:k]
		e := bytes.TrimPrefix(n[k+1:], []byte("+"))
		neg := len(e) > 0 && e[0] == '-'
		if neg {
			e = e[1:]
		}
		e = bytes.TrimLeft(e, "0")
		if len(e) > 9 {
			return false // PostgreSQL refuses an exponent this large even for 0
		}
		for _, d := range e {
			exp = exp*10 + int64(d-'0')
		}
		if neg {
			exp = -exp
		}
	}
	intPart, frac := mant, []byte(nil)
	if k := bytes.IndexByte(mant, '.'); k >= 0 {
		intPart, frac = mant[:k], mant[k+1:]
	}
	if int64(len(frac))-exp > MaxFractionDigits {
		return false
	}
	// The decimal position of the first significant digit (0 for the ones).
	var weight int64
	if sig := bytes.TrimLeft(intPart, "0"); len(sig) > 0 {
		weight = int64(len(sig)) - 1
	} else if k := bytes.IndexFunc(frac, func(r rune) bool { return r != '0' }); k >= 0 {
		weight = -int64(k) - 1
	} else {
		return true // zero
	}
	return weight+exp < MaxIntegerDigits
}
