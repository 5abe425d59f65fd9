package controller

import (
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/fwgit/fwgit/controller/config"
	"github.com/fwgit/fwgit/internal/logfield"
)

// credentials holds the agent API keys and CA pools the configuration
// names, read from their files. A file is read again when its modification
// time or size changes, so keys and CAs can be rotated without a restart; a
// file that cannot be read (again) keeps its last good contents, and the
// error is logged once per change.
type credentials struct {
	log *slog.Logger

	mu    sync.Mutex
	keys  map[string]cached[config.Secret]
	pools map[string]cached[*x509.CertPool]
}

type cached[T any] struct {
	mtime time.Time
	size  int64
	value T
}

func newCredentials(log *slog.Logger) *credentials {
	return &credentials{log: log, keys: map[string]cached[config.Secret]{}, pools: map[string]cached[*x509.CertPool]{}}
}

// load reads every file of creds; used at start, where a missing file is an
// error.
func (c *credentials) load(creds []config.Credentials) error {
	for _, cr := range creds {
		if p := cr.APIKeyFile; p != "" {
			if _, err := c.key(p, true); err != nil {
				return fmt.Errorf("agent API key: %w", err)
			}
		}
		if p := cr.CAFile; p != "" {
			if _, err := c.pool(p, true); err != nil {
				return fmt.Errorf("agent CA: %w", err)
			}
		}
	}
	return nil
}

// key returns the API key in file p.
func (c *credentials) key(p string, strict bool) (config.Secret, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return refresh(c, c.keys, p, strict, config.ReadSecret)
}

// pool returns the CA pool in file p.
func (c *credentials) pool(p string, strict bool) (*x509.CertPool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return refresh(c, c.pools, p, strict, func(p string) (*x509.CertPool, error) {
		pem, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate found", p)
		}
		return pool, nil
	})
}

// refresh returns m[p], reading the file again when it changed. The caller
// holds c.mu.
func refresh[T any](c *credentials, m map[string]cached[T], p string, strict bool, read func(string) (T, error)) (T, error) {
	old, have := m[p]
	fi, err := os.Stat(p)
	if err == nil && have && fi.ModTime().Equal(old.mtime) && fi.Size() == old.size {
		return old.value, nil
	}
	var v T
	if err == nil {
		v, err = read(p)
	}
	if err != nil {
		if strict || !have {
			return v, err
		}
		if fi != nil {
			// Remember the change so the error is logged once, not on
			// every reconcile; the last good value stays in use.
			m[p] = cached[T]{mtime: fi.ModTime(), size: fi.Size(), value: old.value}
		}
		c.log.Warn("re-reading a credential file; keeping the last good one", "file", p, logfield.Error, err)
		return old.value, nil
	}
	m[p] = cached[T]{mtime: fi.ModTime(), size: fi.Size(), value: v}
	if have {
		c.log.Info("credential file changed; using the new one", "file", p)
	}
	return v, nil
}
