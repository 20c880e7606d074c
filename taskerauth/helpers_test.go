package taskerauth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tasker-go/tasker/internal/testdb"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newClock returns a settable clock for JWTConfig.Now.
func newClock() *testdb.Clock { return testdb.NewClock(time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)) }

// jwksServer serves a key set that a test can change, fail or count.
type jwksServer struct {
	*httptest.Server
	mu       sync.Mutex
	doc      []byte
	status   int
	requests int
}

func newJWKSServer(t *testing.T, keys ...map[string]any) *jwksServer {
	t.Helper()
	s := &jwksServer{status: http.StatusOK}
	s.setKeys(t, keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.requests++
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(s.status)
		_, _ = w.Write(s.doc)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) setKeys(t *testing.T, keys ...map[string]any) {
	t.Helper()
	doc, err := json.Marshal(map[string]any{"keys": keys})
	require.NoError(t, err)
	s.setDoc(doc)
}

func (s *jwksServer) setDoc(doc []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.doc = doc
}

func (s *jwksServer) setStatus(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = status
}

func (s *jwksServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func newRSAKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return k
}

func newECKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return k
}

func rsaJWK(kid string, k *rsa.PublicKey) map[string]any {
	return map[string]any{
		"kty": "RSA", "use": "sig", "kid": kid,
		"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes()),
	}
}

func ecJWK(t testing.TB, kid string, k *ecdsa.PublicKey) map[string]any {
	t.Helper()
	point, err := k.Bytes()
	require.NoError(t, err)
	size := (len(point) - 1) / 2
	return map[string]any{
		"kty": "EC", "crv": "P-256", "kid": kid,
		"x": b64(point[1 : 1+size]), "y": b64(point[1+size:]),
	}
}

// sign returns a token with claims signed by key with method, and kid in
// its header when not empty.
func sign(t *testing.T, method jwt.SigningMethod, kid string, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

// claimsAt are valid claims for a clock at now: one hour to live.
func claimsAt(now time.Time, extra jwt.MapClaims) jwt.MapClaims {
	c := jwt.MapClaims{
		"sub": "alice",
		"iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

func bearerRequest(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/tasker/tasks", nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

func rsaGenerate(bits int) (*rsa.PrivateKey, error) {
	return rsa.GenerateKey(rand.Reader, bits)
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
