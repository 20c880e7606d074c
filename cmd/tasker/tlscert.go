package main

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"
)

// certReloader serves the certificate of --tls-cert and --tls-key and loads
// them again when either file changes (a renewed certificate is picked up
// without a restart): each handshake compares the files' modification times
// and sizes with those loaded, two stat calls. A pair that fails to load
// keeps the previous certificate in service; the failure is reported once
// per change.
type certReloader struct {
	certFile, keyFile string
	warn              func(error)

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   [2]fileStamp
	failure [2]fileStamp // the stamps of the last pair that failed to load
}

type fileStamp struct {
	mod  time.Time
	size int64
}

func stampOf(name string) (fileStamp, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size()}, nil
}

// newCertReloader loads the pair once: a pair that does not load is an
// error at start.
func newCertReloader(certFile, keyFile string, warn func(error)) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, warn: warn}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *certReloader) stamps() ([2]fileStamp, error) {
	c, err := stampOf(r.certFile)
	if err != nil {
		return [2]fileStamp{}, fmt.Errorf("--tls-cert: %w", err)
	}
	k, err := stampOf(r.keyFile)
	if err != nil {
		return [2]fileStamp{}, fmt.Errorf("--tls-key: %w", err)
	}
	return [2]fileStamp{c, k}, nil
}

func (r *certReloader) load() error {
	st, err := r.stamps()
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		r.failure = st
		return fmt.Errorf("--tls-cert %s / --tls-key %s: %w", r.certFile, r.keyFile, err)
	}
	r.cert, r.stamp = &cert, st
	return nil
}

// GetCertificate is tls.Config.GetCertificate.
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := r.stamps()
	if err == nil && st != r.stamp && st != r.failure {
		if err := r.load(); err != nil && r.warn != nil {
			r.warn(fmt.Errorf("keeping the previous certificate: %w", err))
		}
	}
	return r.cert, nil
}
