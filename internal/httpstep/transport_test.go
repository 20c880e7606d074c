package httpstep

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func writePEM(t *testing.T, path, typ string, der []byte) string {
	t.Helper()
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
	return path
}

// clientCert makes a CA and a client certificate it signed, written to dir;
// it returns the CA's pool and the paths of the client's certificate and key.
func clientCert(t *testing.T, dir string) (*x509.CertPool, string, string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test client CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "tasker worker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool, writePEM(t, filepath.Join(dir, "client.pem"), "CERTIFICATE", leafDER), writePEM(t, filepath.Join(dir, "client-key.pem"), "PRIVATE KEY", keyDER)
}

// tlsServer starts an HTTPS server (with its handshake errors, expected
// here, kept out of the test output).
func tlsServer(t *testing.T, h http.HandlerFunc, cfg *tls.Config) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.TLS = cfg
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestTLS(t *testing.T) {
	t.Parallel()
	srv := tlsServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"ok": true}`))
	}, nil)
	dir := t.TempDir()
	caFile := writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", srv.Certificate().Raw)
	do := func(tlsCfg map[string]any) error {
		cfg := map[string]any{"url": srv.URL + "/x"}
		if tlsCfg != nil {
			cfg["tls"] = tlsCfg
		}
		_, err := Do(t.Context(), mustParse(t, cfg), &Input{})
		return err
	}

	// Without the CA the server is unknown: a connection error (retryable).
	err := do(nil)
	var ne *NetworkError
	require.ErrorAs(t, err, &ne)
	require.Equal(t, KindConnection, ne.Kind)
	require.ErrorContains(t, err, "certificate")

	require.NoError(t, do(map[string]any{"ca_file": caFile}))
	require.NoError(t, do(map[string]any{"insecure_skip_verify": true}))
	// httptest's certificate is for example.com (and 127.0.0.1).
	require.NoError(t, do(map[string]any{"ca_file": caFile, "server_name": "example.com"}))
	err = do(map[string]any{"ca_file": caFile, "server_name": "other.example"})
	require.ErrorAs(t, err, &ne)
	require.ErrorContains(t, err, "other.example")

	// Unreadable files are permanent and not cached.
	err = do(map[string]any{"ca_file": filepath.Join(dir, "missing.pem")})
	require.ErrorContains(t, err, "handler_config.tls.ca_file: open "+filepath.Join(dir, "missing.pem")+": no such file or directory: give a readable PEM file of the CA certificates to trust")
	permanent, _ := Decide(err)
	require.True(t, permanent)
	writePEM(t, filepath.Join(dir, "missing.pem"), "CERTIFICATE", srv.Certificate().Raw)
	require.NoError(t, do(map[string]any{"ca_file": filepath.Join(dir, "missing.pem")}))

	require.NoError(t, os.WriteFile(filepath.Join(dir, "junk.pem"), []byte("not a certificate"), 0o600))
	err = do(map[string]any{"ca_file": filepath.Join(dir, "junk.pem")})
	require.EqualError(t, err, "handler_config.tls.ca_file "+filepath.Join(dir, "junk.pem")+" holds no PEM certificate: give a file with -----BEGIN CERTIFICATE----- blocks")
}

// A server that requires a client certificate.
func TestTLSClientCertificate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clientCAs, certFile, keyFile := clientCert(t, dir)
	srv := tlsServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(r.TLS.PeerCertificates[0].Subject.CommonName))
	}, &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCAs, MinVersion: tls.VersionTLS12})
	caFile := writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", srv.Certificate().Raw)

	c := mustParse(t, map[string]any{"url": srv.URL, "tls": map[string]any{"ca_file": caFile, "cert_file": certFile, "key_file": keyFile}})
	resp, err := Do(t.Context(), c, &Input{})
	require.NoError(t, err)
	require.Equal(t, "tasker worker", string(resp.Body))

	_, err = Do(t.Context(), mustParse(t, map[string]any{"url": srv.URL, "tls": map[string]any{"ca_file": caFile}}), &Input{})
	var ne *NetworkError
	require.ErrorAs(t, err, &ne, "without the client certificate the server refuses")

	_, err = Do(t.Context(), mustParse(t, map[string]any{"url": srv.URL, "tls": map[string]any{"cert_file": certFile, "key_file": caFile}}), &Input{})
	require.ErrorContains(t, err, "handler_config.tls.cert_file "+certFile+" and key_file "+caFile+": tls: ")
	require.True(t, strings.HasSuffix(err.Error(), ": give a PEM client certificate and its private key"), err.Error())
}

// One transport per distinct TLS configuration, built once.
func TestTransportCache(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := tlsServer(t, func(http.ResponseWriter, *http.Request) {}, nil)
	caFile := writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", srv.Certificate().Raw)
	a, err := transportFor(&TLS{CAFile: caFile})
	require.NoError(t, err)
	b, err := transportFor(&TLS{CAFile: caFile})
	require.NoError(t, err)
	require.Same(t, a, b)
	c, err := transportFor(&TLS{CAFile: caFile, ServerName: "example.com"})
	require.NoError(t, err)
	require.NotSame(t, a, c)
	d, err := transportFor(nil)
	require.NoError(t, err)
	e, err := transportFor(&TLS{})
	require.NoError(t, err)
	require.Same(t, d, e, "no options is the default transport")
	// Clone runs the transport's lazy HTTP/2 set-up under its once, so this
	// read does not race with a parallel test's request on the same transport.
	cfg := d.Clone().TLSClientConfig
	require.True(t, cfg == nil || cfg.RootCAs == nil)
}
