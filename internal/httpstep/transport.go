package httpstep

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// tlsKey identifies a distinct TLS configuration; the zero key is the
// default one.
type tlsKey struct {
	caFile, certFile, keyFile, serverName string
	insecure                              bool
}

// transports holds one *http.Transport per distinct TLS configuration, for
// the life of the process: connections are pooled across steps and the
// certificate files are read once, at first use. A configuration whose
// files cannot be loaded is not cached, so fixing the files is enough.
var transports = struct {
	sync.Mutex
	m map[tlsKey]*http.Transport
}{m: map[tlsKey]*http.Transport{}}

// transportFor returns the shared transport of t (nil: the default TLS
// settings). Errors are *ConfigError.
func transportFor(t *TLS) (*http.Transport, error) {
	var k tlsKey
	if t != nil {
		k = tlsKey{caFile: t.CAFile, certFile: t.CertFile, keyFile: t.KeyFile, serverName: t.ServerName, insecure: t.InsecureSkipVerify}
	}
	transports.Lock()
	defer transports.Unlock()
	if tr, ok := transports.m[k]; ok {
		return tr, nil
	}
	tr := newTransport()
	if k != (tlsKey{}) {
		cfg, err := tlsConfig(t)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = cfg
	}
	transports.m[k] = tr
	return tr, nil
}

// newTransport has the settings of http.DefaultTransport.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

func tlsConfig(t *TLS) (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, // the user's explicit, documented choice
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, configErrorf("handler_config.tls.ca_file: %v: give a readable PEM file of the CA certificates to trust", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, configErrorf("handler_config.tls.ca_file %s holds no PEM certificate: give a file with -----BEGIN CERTIFICATE----- blocks", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, configErrorf("handler_config.tls.cert_file %s and key_file %s: %v: give a PEM client certificate and its private key", t.CertFile, t.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
