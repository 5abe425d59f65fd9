package pull

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/fwgit/fwgit/internal/agentapi"
	"github.com/fwgit/fwgit/internal/logfield"
)

// renewRetry spaces failed renewal attempts.
const renewRetry = 10 * time.Minute

// NeedsRenewal reports whether a certificate valid from nb to na should be
// renewed at now: when two thirds of its life have passed.
func NeedsRenewal(nb, na, now time.Time) bool {
	return !now.Before(nb.Add(na.Sub(nb) * 2 / 3))
}

// maybeRenew renews the client certificate when it is due and the last
// attempt is long enough ago. Failures are logged; the old certificate
// stays in use.
func (l *Loop) maybeRenew(ctx context.Context) {
	now := l.cfg.Now()
	l.mu.Lock()
	leaf := l.id.cert.Leaf
	due := NeedsRenewal(leaf.NotBefore, leaf.NotAfter, now) && now.Sub(l.lastRenew) >= renewRetry
	if due {
		l.lastRenew = now
	}
	l.mu.Unlock()
	if !due {
		return
	}
	if err := l.Renew(ctx); err != nil {
		l.log.Warn("certificate renewal failed; retrying later", logfield.Error, err, "not_after", leaf.NotAfter)
	}
}

// Renew replaces the client certificate: a fresh key and certificate
// request, signed by the controller over the current mutual-TLS
// connection, checked, then stored atomically with its key.
func (l *Loop) Renew(ctx context.Context) error {
	id := l.Identity()
	key, csr, err := newKeyAndCSR(id.Firewall)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(agentapi.RenewRequest{CSR: csr})
	ctx, cancel := context.WithTimeout(ctx, l.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, id.URL+agentapi.CertificatePath(id.Firewall), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	var res agentapi.EnrollResponse
	if err := roundTrip(&http.Client{Transport: l.tr, CheckRedirect: noRedirect}, req, &res); err != nil {
		return fmt.Errorf("renewing certificate: %w", err)
	}
	der, err := acceptCertificate(res.Certificate, key, id.Firewall, id.CA)
	if err != nil {
		return fmt.Errorf("renewed certificate: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.id.saveKeyPair(key, der); err != nil {
		return err
	}
	l.log.Info("client certificate renewed", "not_after", l.id.cert.Leaf.NotAfter)
	return nil
}
