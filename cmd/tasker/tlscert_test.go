package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// writePair writes a self-signed certificate for 127.0.0.1 with serial and
// its key to cert and key, stamped with mod as modification time.
func writePair(t *testing.T, cert, key string, serial int64, mod time.Time) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "tasker test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(priv)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	require.NoError(t, os.Chtimes(cert, mod, mod))
	require.NoError(t, os.Chtimes(key, mod, mod))
}

// servedSerial completes a TLS handshake with addr and returns the serial
// number of the certificate the server presented.
func servedSerial(t *testing.T, addr string) int64 {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the test reads the served certificate
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// A renewed certificate is served from the next handshake on, without a
// restart; a pair that does not load keeps the previous one in service and
// is reported once.
func TestCertReloader(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	t0 := time.Now().Add(-time.Minute)
	writePair(t, cert, key, 1, t0)
	var warnings []error
	r, err := newCertReloader(cert, key, func(err error) { warnings = append(warnings, err) })
	require.NoError(t, err)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: r.GetCertificate, MinVersion: tls.VersionTLS12})
	require.NoError(t, err)
	defer func() { _ = ln.Close() }()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			_ = c.Close()
		}
	}()
	addr := ln.Addr().String()
	require.EqualValues(t, 1, servedSerial(t, addr))

	writePair(t, cert, key, 2, t0.Add(time.Second))
	require.EqualValues(t, 2, servedSerial(t, addr), "the renewed certificate is served")

	require.NoError(t, os.WriteFile(key, []byte("not a key"), 0o600))
	require.NoError(t, os.Chtimes(key, t0.Add(2*time.Second), t0.Add(2*time.Second)))
	require.EqualValues(t, 2, servedSerial(t, addr), "a broken pair keeps the previous certificate")
	require.EqualValues(t, 2, servedSerial(t, addr))
	require.Len(t, warnings, 1, "the broken pair is reported once")
	require.ErrorContains(t, warnings[0], "keeping the previous certificate")

	writePair(t, cert, key, 3, t0.Add(3*time.Second))
	require.EqualValues(t, 3, servedSerial(t, addr), "a repaired pair is served")

	_, err = newCertReloader(filepath.Join(dir, "missing.pem"), key, nil)
	require.ErrorContains(t, err, "--tls-cert")
}

// serve --tls-cert/--tls-key serves HTTPS with the pair and serves a
// renewed pair from the next handshake on; the flags go together.
func TestServeTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("runs `tasker serve`: skipped in -short mode")
	}
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	t0 := time.Now().Add(-time.Minute)
	writePair(t, cert, key, 11, t0)
	db := "sqlite://" + filepath.Join(dir, "tls.db")
	srv := startServe(t, taskerBinary(t), "--database", db, "--tls-cert", cert, "--tls-key", key)
	require.True(t, strings.HasPrefix(srv.base, "https://127.0.0.1:"), srv.base)
	addr := strings.TrimPrefix(srv.base, "https://")
	require.EqualValues(t, 11, servedSerial(t, addr))

	pool := x509.NewCertPool()
	certPEM, err := os.ReadFile(cert)
	require.NoError(t, err)
	require.True(t, pool.AppendCertsFromPEM(certPEM))
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	res, err := hc.Get(srv.base + "/tasker/health/live")
	require.NoError(t, err)
	_ = res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode, "the API over verified TLS")
	hc.CloseIdleConnections()

	writePair(t, cert, key, 12, t0.Add(time.Second))
	require.EqualValues(t, 12, servedSerial(t, addr), "the renewed pair, without a restart")

	_, _, err = run(t, "--database", db, "serve", "--tls-cert", cert)
	require.ErrorContains(t, err, "--tls-cert and --tls-key go together")
}
