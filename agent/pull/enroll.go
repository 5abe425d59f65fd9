package pull

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fwgit/fwgit/internal/agentapi"
)

// maxResponse caps the body of enrollment and report answers.
const maxResponse = 1 << 20

// Errors of [Enroll].
var (
	// ErrTokenExpired reports a token past its expiry, found before
	// dialing.
	ErrTokenExpired = errors.New("pull: enrollment token has expired (create a new one with `fwgit token create`)")
	// ErrEnrolled reports a directory that holds an enrollment already.
	ErrEnrolled = errors.New("pull: already enrolled (use --force to enroll again)")
)

// ControllerError is an error answer of the controller.
type ControllerError struct {
	Status  int
	Code    string
	Message string
}

func (e *ControllerError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("controller answered %d", e.Status)
	}
	return fmt.Sprintf("controller answered %d %s: %s", e.Status, e.Code, e.Message)
}

// EnrollOptions configure [Enroll].
type EnrollOptions struct {
	// Token is the encoded enrollment token. Required.
	Token string
	// Dir receives pull.pem, pull-ca.crt and pull.json. Required.
	Dir string
	// URL, when set, replaces the token's controller URL (for a controller
	// the agent reaches under another address). The CA pin still decides
	// trust.
	URL string
	// Force replaces an existing enrollment.
	Force bool
	// Timeout bounds the enrollment request (default 30s).
	Timeout time.Duration
	// Now defaults to time.Now.
	Now func() time.Time
}

// Enroll redeems a token: it generates a key, sends a certificate request
// to the controller over TLS verified by the token's CA fingerprint,
// checks the signed certificate and stores the identity in o.Dir. The
// private key is written only after the controller accepted, and never
// leaves the host.
func Enroll(ctx context.Context, o EnrollOptions) (*Identity, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	tok, err := agentapi.ParseEnrollToken(o.Token)
	if err != nil {
		return nil, err
	}
	if !o.Now().Before(tok.ExpiresAt()) {
		return nil, ErrTokenExpired
	}
	if Enrolled(o.Dir) && !o.Force {
		return nil, ErrEnrolled
	}
	base := tok.URL
	if o.URL != "" {
		u, err := url.Parse(o.URL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return nil, fmt.Errorf("controller URL %q is not an https:// URL", o.URL)
		}
		base = o.URL
	}
	base = strings.TrimSuffix(base, "/")

	key, csr, err := newKeyAndCSR(tok.Firewall)
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(agentapi.EnrollRequest{Token: o.Token, CSR: csr})
	tr := newTransport(pinnedTLS(tok.CAFingerprint))
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: o.Timeout, CheckRedirect: noRedirect}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+agentapi.PathEnroll, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	var res agentapi.EnrollResponse
	if err := roundTrip(client, req, &res); err != nil {
		return nil, fmt.Errorf("enrolling at %s: %w", base, err)
	}

	caCert, err := parseCert([]byte(res.CA))
	if err != nil {
		return nil, fmt.Errorf("enrollment answer: CA: %w", err)
	}
	if fp := fingerprint(caCert.Raw); fp != tok.CAFingerprint {
		return nil, fmt.Errorf("enrollment answer: %w", &FingerprintError{Want: tok.CAFingerprint, Got: []string{fp}})
	}
	if res.Firewall != tok.Firewall {
		return nil, fmt.Errorf("enrollment answer: certificate for %q, the token names %q", res.Firewall, tok.Firewall)
	}
	der, err := acceptCertificate(res.Certificate, key, tok.Firewall, caCert)
	if err != nil {
		return nil, fmt.Errorf("enrollment answer: %w", err)
	}
	id := &Identity{Dir: o.Dir, URL: base, Firewall: tok.Firewall, CA: caCert}
	if err := id.save(key, der, o.Now()); err != nil {
		return nil, fmt.Errorf("storing the enrollment (the token use is spent; create a new token): %w", err)
	}
	return id, nil
}

// newTransport returns an HTTP transport with bounded dial and handshake
// times and no response-header timeout (long polls).
func newTransport(tc *tls.Config) *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     tc,
		TLSHandshakeTimeout: 10 * time.Second,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
	}
}

// noRedirect makes a client refuse redirects: the enrollment body holds
// the token, and every pull request carries the client certificate, so
// none of them goes anywhere but the controller's URL.
func noRedirect(*http.Request, []*http.Request) error {
	return errors.New("the controller answered with a redirect; give its URL instead")
}

// roundTrip sends req and decodes a 2xx JSON answer into out (when not
// nil); other answers become a [*ControllerError].
func roundTrip(c *http.Client, req *http.Request, out any) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body := io.LimitReader(resp.Body, maxResponse)
	if resp.StatusCode/100 != 2 {
		return controllerError(resp.StatusCode, body)
	}
	if out == nil {
		io.Copy(io.Discard, body)
		return nil
	}
	if err := json.NewDecoder(body).Decode(out); err != nil {
		return fmt.Errorf("decoding answer: %w", err)
	}
	return nil
}

func controllerError(status int, body io.Reader) error {
	var e agentapi.Error
	json.NewDecoder(body).Decode(&e)
	return &ControllerError{Status: status, Code: e.Code, Message: e.Message}
}
