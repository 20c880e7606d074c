package taskerauth

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds on a JWKS document.
const (
	maxJWKSBytes   = 1 << 20
	maxJWKSKeys    = 100
	minRSABits     = 2048
	maxRSABits     = 8192
	maxJWKParamLen = 2048 // base64url characters of one key parameter
)

// keySet is the cached JWKS of a JWT authenticator.
type keySet struct {
	url        string
	client     *http.Client
	logger     *slog.Logger
	now        func() time.Time
	refresh    time.Duration
	minRefresh time.Duration

	current atomic.Pointer[keySnapshot]

	fetchMu   sync.Mutex // one fetch at a time; guards attempted
	attempted time.Time  // start of the last fetch, successful or not
}

type keySnapshot struct {
	fetched time.Time
	keys    []publicKey
}

type publicKey struct {
	kid  string
	key  any // *rsa.PublicKey or *ecdsa.PublicKey
	algs []string
}

// lookup returns the key for a token with kid (possibly "") and alg,
// fetching the key set when there is none yet, when it is older than the
// refresh interval, or when kid is unknown, never more often than
// minRefresh.
func (ks *keySet) lookup(ctx context.Context, kid, alg string) (any, error) {
	snap := ks.current.Load()
	switch {
	case snap == nil:
		ks.maybeFetch(ctx, snap, true)
	case ks.now().Sub(snap.fetched) >= ks.refresh:
		// Stale: one request refreshes, the others go on with the keys
		// they have.
		ks.maybeFetch(ctx, snap, false)
	}
	snap = ks.current.Load()
	if snap == nil {
		return nil, errNoKeys
	}
	if k, err := snap.find(kid, alg); !errors.Is(err, errUnknownKey) {
		return k, err
	}
	// An unknown key: perhaps the provider rotated its keys.
	ks.maybeFetch(ctx, snap, true)
	return ks.current.Load().find(kid, alg)
}

// find returns the key named kid. A token without kid may use the only key
// of the set that accepts its algorithm.
func (s *keySnapshot) find(kid, alg string) (any, error) {
	var match *publicKey
	for i := range s.keys {
		k := &s.keys[i]
		if kid != "" && k.kid != kid {
			continue
		}
		if kid == "" && !slices.Contains(k.algs, alg) {
			continue
		}
		if match != nil {
			// Two keys with one kid, or several candidates without kid:
			// ambiguous. A rotation may resolve it.
			return nil, errUnknownKey
		}
		match = k
	}
	if match == nil {
		return nil, errUnknownKey
	}
	if !slices.Contains(match.algs, alg) {
		return nil, errAlgorithm
	}
	return match.key, nil
}

// maybeFetch fetches the key set unless another fetch replaced seen
// meanwhile or the last attempt is more recent than minRefresh. With wait
// false it gives up at once when another fetch is running.
func (ks *keySet) maybeFetch(ctx context.Context, seen *keySnapshot, wait bool) {
	if wait {
		ks.fetchMu.Lock()
	} else if !ks.fetchMu.TryLock() {
		return
	}
	defer ks.fetchMu.Unlock()
	if ks.current.Load() != seen {
		return
	}
	if !ks.attempted.IsZero() && ks.now().Sub(ks.attempted) < ks.minRefresh {
		return
	}
	if err := ks.fetchLocked(ctx); err != nil {
		ks.logger.Warn("taskerauth: cannot fetch the JWKS; the keys fetched before stay in use",
			"url", ks.url, "error", err)
	}
}

func (ks *keySet) fetchNow(ctx context.Context) error {
	ks.fetchMu.Lock()
	defer ks.fetchMu.Unlock()
	return ks.fetchLocked(ctx)
}

func (ks *keySet) fetchLocked(ctx context.Context) error {
	ks.attempted = ks.now()
	// The request that triggers a fetch may be cancelled; the fetch serves
	// every request, so it has its own deadline.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultJWKSTimeout)
	defer cancel()
	keys, err := ks.fetch(ctx)
	if err != nil {
		return err
	}
	ks.current.Store(&keySnapshot{fetched: ks.now(), keys: keys})
	ks.logger.Debug("taskerauth: fetched the JWKS", "url", ks.url, "keys", len(keys))
	return nil
}

func (ks *keySet) fetch(ctx context.Context) ([]publicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ks.url, nil)
	if err != nil {
		return nil, fmt.Errorf("JWKS %s: %w", ks.url, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := ks.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("JWKS %s: status %s", ks.url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("JWKS %s: %w", ks.url, err)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("JWKS %s: the document is larger than %d bytes", ks.url, maxJWKSBytes)
	}
	keys, err := parseJWKS(body)
	if err != nil {
		return nil, fmt.Errorf("JWKS %s: %w", ks.url, err)
	}
	return keys, nil
}

// jwk is one JSON Web Key (RFC 7517, 7518 §6) as far as signature
// verification needs.
type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parseJWKS reads the signing keys of a JSON Web Key Set: RSA keys of 2048
// to 8192 bits and EC keys on P-256, P-384 and P-521. Keys of other types,
// for encryption ("use": "enc"), or with an "alg" their type cannot have
// are skipped, and so are malformed keys (one bad key must not stop the
// others); a set without a usable key is an error naming the first bad one.
func parseJWKS(data []byte) ([]publicKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not a JSON Web Key Set: %w", err)
	}
	if len(doc.Keys) > maxJWKSKeys {
		return nil, fmt.Errorf("the key set has %d keys, more than %d", len(doc.Keys), maxJWKSKeys)
	}
	var keys []publicKey
	var firstErr error
	for i, raw := range doc.Keys {
		var k jwk
		if err := json.Unmarshal(raw, &k); err != nil {
			firstErr = cmp.Or(firstErr, fmt.Errorf("key %d: %w", i, err))
			continue
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		pk, ok, err := parseJWK(k)
		if err != nil {
			firstErr = cmp.Or(firstErr, fmt.Errorf("key %d (kid %q): %w", i, k.Kid, err))
			continue
		}
		if ok {
			keys = append(keys, pk)
		}
	}
	if len(keys) == 0 {
		if firstErr != nil {
			return nil, fmt.Errorf("the key set has no usable signing key: %w", firstErr)
		}
		return nil, errors.New("the key set has no RSA or EC signing key")
	}
	return keys, nil
}

// parseJWK returns the key and the algorithms it verifies; ok is false for
// a key this package does not use.
func parseJWK(k jwk) (publicKey, bool, error) {
	pk := publicKey{kid: k.Kid}
	switch k.Kty {
	case "RSA":
		pk.algs = rsaAlgs
		if k.Alg != "" && !slices.Contains(rsaAlgs, k.Alg) {
			return pk, false, nil
		}
		n, e, err := b64Params("n", k.N, "e", k.E)
		if err != nil {
			return pk, false, err
		}
		if len(e) > 4 {
			return pk, false, errors.New(`"e" is too large`)
		}
		exp := int(new(big.Int).SetBytes(e).Int64())
		if exp < 3 || exp%2 == 0 {
			return pk, false, errors.New(`"e" must be an odd number of at least 3`)
		}
		mod := new(big.Int).SetBytes(n)
		if bits := mod.BitLen(); bits < minRSABits || bits > maxRSABits {
			return pk, false, fmt.Errorf("the RSA key has %d bits; %d to %d are accepted", bits, minRSABits, maxRSABits)
		}
		pk.key = &rsa.PublicKey{N: mod, E: exp}
	case "EC":
		var curve elliptic.Curve
		var alg string
		switch k.Crv {
		case "P-256":
			curve, alg = elliptic.P256(), "ES256"
		case "P-384":
			curve, alg = elliptic.P384(), "ES384"
		case "P-521":
			curve, alg = elliptic.P521(), "ES512"
		default:
			return pk, false, nil
		}
		if k.Alg != "" && k.Alg != alg {
			return pk, false, nil
		}
		pk.algs = []string{alg}
		x, y, err := b64Params("x", k.X, "y", k.Y)
		if err != nil {
			return pk, false, err
		}
		size := (curve.Params().BitSize + 7) / 8
		if len(x) != size || len(y) != size {
			return pk, false, fmt.Errorf(`"x" and "y" must be %d bytes for %s`, size, k.Crv)
		}
		point := append(append([]byte{4}, x...), y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
		if err != nil {
			return pk, false, fmt.Errorf("the EC point is invalid: %w", err)
		}
		pk.key = pub
	default:
		return pk, false, nil
	}
	if k.Alg != "" {
		pk.algs = []string{k.Alg}
	}
	return pk, true, nil
}

func b64Param(name, s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("%q is missing", name)
	}
	if len(s) > maxJWKParamLen {
		return nil, fmt.Errorf("%q is too long", name)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not base64url without padding", name)
	}
	return b, nil
}

// b64Params decodes two of a key's parameters, sa named a and sb named b
// (see b64Param).
func b64Params(a, sa, b, sb string) ([]byte, []byte, error) {
	da, err := b64Param(a, sa)
	if err != nil {
		return nil, nil, err
	}
	db, err := b64Param(b, sb)
	return da, db, err
}
