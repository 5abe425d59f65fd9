package fleet

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fwgit/fwgit/internal/agentapi"
)

// MaxResponse caps the body read from an agent.
const MaxResponse = 1 << 20

// HTTPSOptions configure [NewHTTPS].
type HTTPSOptions struct {
	// Timeout bounds each call, retries included (default 10s).
	Timeout time.Duration
	// RetryMax is how often a transient failure is retried (default 2).
	RetryMax int
	// RetryWaitMin and RetryWaitMax bound the exponential wait between
	// retries (defaults 100ms and 1s).
	RetryWaitMin, RetryWaitMax time.Duration
	// Registerer receives fwgit_agent_request_duration_seconds; may be nil.
	Registerer prometheus.Registerer
}

// HTTPS is the real [Client].
type HTTPS struct {
	opts     HTTPSOptions
	duration *prometheus.HistogramVec

	mu         sync.Mutex
	transports map[trustKey]*http.Transport
}

var _ Client = (*HTTPS)(nil)

type trustKey struct {
	fingerprint string
	roots       *x509.CertPool
}

// NewHTTPS returns a client.
func NewHTTPS(opts HTTPSOptions) *HTTPS {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.RetryMax < 0 {
		opts.RetryMax = 0
	} else if opts.RetryMax == 0 {
		opts.RetryMax = 2
	}
	if opts.RetryWaitMin <= 0 {
		opts.RetryWaitMin = 100 * time.Millisecond
	}
	if opts.RetryWaitMax < opts.RetryWaitMin {
		opts.RetryWaitMax = max(time.Second, opts.RetryWaitMin)
	}
	c := &HTTPS{
		opts:       opts,
		transports: map[trustKey]*http.Transport{},
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fwgit_agent_request_duration_seconds",
			Help:    "Duration of requests to agents (retries included), by operation and result.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}, []string{"op", "result"}),
	}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(c.duration)
	}
	return c
}

// TLSConfig returns the TLS configuration that verifies t: the leaf
// certificate's SHA-256 fingerprint when t pins one (host names are then
// not checked; InsecureSkipVerify only turns off the chain and name checks
// that VerifyConnection replaces), else the chain against t.RootCAs. It
// fails with [ErrNoTrust] when t has neither.
func TLSConfig(t Target) (*tls.Config, error) {
	switch {
	case t.Fingerprint != "":
		want, ok := strings.CutPrefix(t.Fingerprint, "sha256:")
		wantRaw, err := hex.DecodeString(want)
		if !ok || err != nil || len(wantRaw) != sha256.Size {
			return nil, fmt.Errorf("fleet: invalid fingerprint for %s: want sha256: and 64 hex digits", t.Name)
		}
		return &tls.Config{
			MinVersion:         tls.VersionTLS12,
			InsecureSkipVerify: true, // replaced by the pin check below
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 {
					return &FingerprintError{Want: t.Fingerprint, Got: "none"}
				}
				got := sha256.Sum256(cs.PeerCertificates[0].Raw)
				if subtle.ConstantTimeCompare(got[:], wantRaw) != 1 {
					return &FingerprintError{Want: t.Fingerprint, Got: "sha256:" + hex.EncodeToString(got[:])}
				}
				return nil
			},
		}, nil
	case t.RootCAs != nil:
		return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: t.RootCAs}, nil
	}
	return nil, ErrNoTrust
}

func newTransport(tc *tls.Config, keepAlive bool) *http.Transport {
	return &http.Transport{
		Proxy:                 nil, // agents are reached directly
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		DisableKeepAlives:     !keepAlive,
		ForceAttemptHTTP2:     true,
	}
}

func (c *HTTPS) transport(t Target) (*http.Transport, error) {
	k := trustKey{t.Fingerprint, t.RootCAs}
	if t.Fingerprint != "" {
		k.roots = nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if tr, ok := c.transports[k]; ok {
		return tr, nil
	}
	tc, err := TLSConfig(t)
	if err != nil {
		return nil, err
	}
	tr := newTransport(tc, true)
	c.transports[k] = tr
	return tr, nil
}

// CloseIdleConnections closes every idle connection to every agent.
func (c *HTTPS) CloseIdleConnections() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, tr := range c.transports {
		tr.CloseIdleConnections()
	}
}

// State implements [Client].
func (c *HTTPS) State(ctx context.Context, t Target) (*agentapi.State, error) {
	var st agentapi.State
	if err := c.do(ctx, t, "state", http.MethodGet, "/api/v1/state", nil, &st, false); err != nil {
		return nil, err
	}
	return &st, nil
}

// Apply implements [Client].
func (c *HTTPS) Apply(ctx context.Context, t Target, req *agentapi.RulesetRequest) (*agentapi.ApplyResult, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("fleet: encoding ruleset: %w", err)
	}
	var res agentapi.ApplyResult
	if err := c.do(ctx, t, "apply", http.MethodPut, "/api/v1/ruleset", body, &res, false); err != nil {
		return nil, err
	}
	return &res, nil
}

// Confirm implements [Client]. It dials a fresh connection (no reuse of an
// idle one), so a ruleset that blocks new connections from the controller
// cannot be confirmed.
func (c *HTTPS) Confirm(ctx context.Context, t Target, generation uint64) error {
	body, err := json.Marshal(agentapi.ConfirmRequest{Generation: generation})
	if err != nil {
		return fmt.Errorf("fleet: encoding confirm: %w", err)
	}
	return c.do(ctx, t, "confirm", http.MethodPost, "/api/v1/confirm", body, nil, true)
}

func (c *HTTPS) do(ctx context.Context, t Target, op, method, path string, body []byte, out any, fresh bool) (err error) {
	start := time.Now()
	defer func() {
		result := "ok"
		if err != nil {
			result = "error"
		}
		c.duration.WithLabelValues(op, result).Observe(time.Since(start).Seconds())
	}()
	if t.APIKey.IsZero() {
		return ErrNoAPIKey
	}
	var tr *http.Transport
	if fresh {
		tc, err := TLSConfig(t)
		if err != nil {
			return err
		}
		tr = newTransport(tc, false)
		defer tr.CloseIdleConnections()
	} else if tr, err = c.transport(t); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()

	rc := &retryablehttp.Client{
		HTTPClient:   &http.Client{Transport: tr, CheckRedirect: noRedirect},
		RetryWaitMin: c.opts.RetryWaitMin,
		RetryWaitMax: c.opts.RetryWaitMax,
		RetryMax:     c.opts.RetryMax,
		CheckRetry:   checkRetry,
		Backoff:      retryablehttp.DefaultBackoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	var rbody any
	if body != nil {
		rbody = body
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, method, strings.TrimSuffix(t.URL, "/")+path, rbody)
	if err != nil {
		return fmt.Errorf("fleet: %s %s: %w", op, t.Name, err)
	}
	req.Header.Set(agentapi.HeaderAPIKey, t.APIKey.Reveal())
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := rc.Do(req)
	if err != nil {
		var fe *FingerprintError
		if errors.As(err, &fe) {
			return fmt.Errorf("%w: %s: %w", ErrUnreachable, t.Name, fe)
		}
		return fmt.Errorf("%w: %s %s: %w", ErrUnreachable, op, t.Name, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponse+1))
	if err != nil {
		return fmt.Errorf("%w: %s %s: reading answer: %w", ErrUnreachable, op, t.Name, err)
	}
	if len(data) > MaxResponse {
		return &AgentError{Op: op, Status: resp.StatusCode, Code: "ResponseTooLarge", Message: fmt.Sprintf("answer over %d bytes", MaxResponse)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		ae := &AgentError{Op: op, Status: resp.StatusCode}
		var e agentapi.Error
		if json.Unmarshal(data, &e) == nil {
			ae.Code, ae.Message = e.Code, truncate(e.Message, 500)
		}
		return ae
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return &AgentError{Op: op, Status: resp.StatusCode, Code: "InvalidResponse", Message: err.Error()}
		}
	}
	return nil
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// checkRetry retries what retryablehttp considers transient, except a
// fingerprint mismatch: a wrong certificate does not fix itself.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	var fe *FingerprintError
	if errors.As(err, &fe) {
		return false, err
	}
	return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Fingerprint returns "sha256:<hex>" of a DER certificate.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:])
}
