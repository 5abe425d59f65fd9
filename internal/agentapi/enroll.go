package agentapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Pull mode and enrollment: the wire types of the controller's agent-facing
// listener. Agents behind NAT dial the controller; the controller never
// dials them.

// TokenPrefix starts every enrollment token; the digit is the token format
// version.
const TokenPrefix = "fwgit1."

// MinTokenSecret is the shortest enrollment secret, in bytes.
const MinTokenSecret = 32

// ControllerServerName is a DNS name every certificate of the agent-facing
// listener carries. Enrolled agents verify the controller against the
// enrollment CA with this name, so the address they dial (an IP, a NAT or
// port-forward name) never has to be in the certificate: the private CA,
// pinned by fingerprint at enrollment, is the trust anchor.
const ControllerServerName = "fwgit-controller"

// HeaderGeneration carries, on GET desired, the generation the agent runs;
// the controller answers with the next one so generations only grow
// without the controller keeping per-agent state.
const HeaderGeneration = "X-Fwgit-Generation"

// Paths on the agent-facing listener.
const (
	// PathEnroll redeems a token for a client certificate (POST, no client
	// certificate).
	PathEnroll = "/api/v1/enroll"
)

// DesiredPath returns the long-poll path of firewall name (GET, mTLS).
func DesiredPath(name string) string { return "/api/v1/agents/" + url.PathEscape(name) + "/desired" }

// StatePath returns the state-report path of firewall name (POST, mTLS).
func StatePath(name string) string { return "/api/v1/agents/" + url.PathEscape(name) + "/state" }

// CertificatePath returns the certificate-renewal path of firewall name
// (POST, mTLS with the current certificate).
func CertificatePath(name string) string {
	return "/api/v1/agents/" + url.PathEscape(name) + "/certificate"
}

// EnrollToken is what `fwgit token create` prints, decoded. Everything but
// Secret is public; Secret proves the right to one enrollment. The type
// redacts Secret in fmt and slog output; [EnrollToken.Encode] is the only
// way to get the copy-pasteable form.
type EnrollToken struct {
	// URL is the controller's agent-facing base URL (https://host:port).
	URL string `json:"u"`
	// CAFingerprint pins the controller's CA: "sha256:" and the hex
	// SHA-256 of the CA certificate's DER.
	CAFingerprint string `json:"f"`
	// Firewall is the name the certificate will carry.
	Firewall string `json:"n"`
	// ID names the token in `fwgit token list|revoke`.
	ID string `json:"i"`
	// Secret is base64url (no padding) of at least [MinTokenSecret]
	// random bytes.
	Secret string `json:"s"`
	// Expires is the expiry in Unix seconds, so the agent can tell an
	// expired token before dialing. The controller's record decides.
	Expires int64 `json:"e"`
}

// ErrBadToken reports a string that is not an enrollment token.
var ErrBadToken = errors.New("agentapi: malformed enrollment token")

var (
	fingerprintRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	tokenIDRE     = regexp.MustCompile(`^[0-9a-z]{8,32}$`)
)

// Encode returns the token as one copy-pasteable string:
// [TokenPrefix] and base64url (no padding) of its JSON.
func (t EnrollToken) Encode() string {
	b, _ := json.Marshal(t) // strings and an int: cannot fail
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// String redacts the secret.
func (t EnrollToken) String() string {
	return fmt.Sprintf("enrollment token %s for %s at %s", t.ID, t.Firewall, t.URL)
}

// GoString redacts the secret for %#v.
func (t EnrollToken) GoString() string { return t.String() }

// LogValue redacts the secret in slog output.
func (t EnrollToken) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", t.ID), slog.String("firewall", t.Firewall), slog.String("url", t.URL))
}

// SecretBytes returns the decoded secret.
func (t EnrollToken) SecretBytes() ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(t.Secret)
	if err != nil || len(b) < MinTokenSecret {
		return nil, fmt.Errorf("%w: secret is not %d or more base64url bytes", ErrBadToken, MinTokenSecret)
	}
	return b, nil
}

// ExpiresAt returns Expires as a time.
func (t EnrollToken) ExpiresAt() time.Time { return time.Unix(t.Expires, 0) }

// Validate checks every field's form. Errors match [ErrBadToken] and never
// contain the secret.
func (t EnrollToken) Validate() error {
	u, err := url.Parse(t.URL)
	switch {
	case err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil:
		return fmt.Errorf("%w: controller URL is not an https:// URL", ErrBadToken)
	case !fingerprintRE.MatchString(t.CAFingerprint):
		return fmt.Errorf("%w: CA fingerprint is not sha256: and 64 hex digits", ErrBadToken)
	case t.Firewall == "" || strings.ContainsAny(t.Firewall, "/ \t\r\n"):
		return fmt.Errorf("%w: firewall name %q", ErrBadToken, t.Firewall)
	case !tokenIDRE.MatchString(t.ID):
		return fmt.Errorf("%w: token id", ErrBadToken)
	}
	_, err = t.SecretBytes()
	return err
}

// ParseEnrollToken decodes and validates a string made by
// [EnrollToken.Encode]. Surrounding white space is ignored (tokens are
// pasted).
func ParseEnrollToken(s string) (EnrollToken, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), TokenPrefix)
	if !ok {
		return EnrollToken{}, fmt.Errorf("%w: does not start with %q", ErrBadToken, TokenPrefix)
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return EnrollToken{}, fmt.Errorf("%w: not base64url", ErrBadToken)
	}
	var t EnrollToken
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return EnrollToken{}, fmt.Errorf("%w: not a token document", ErrBadToken)
	}
	if err := t.Validate(); err != nil {
		return EnrollToken{}, err
	}
	return t, nil
}

// EnrollRequest is the body of POST [PathEnroll].
type EnrollRequest struct {
	// Token is the whole encoded token.
	Token string `json:"token"`
	// CSR is a PEM "CERTIFICATE REQUEST" for an ECDSA P-256 key the agent
	// generated; the private key never leaves the agent.
	CSR string `json:"csr"`
}

// LogValue redacts the token.
func (r EnrollRequest) LogValue() slog.Value { return slog.StringValue(r.String()) }

// String redacts the token, so %v and %+v never print it.
func (r EnrollRequest) String() string { return "[enroll request]" }

// GoString redacts the token for %#v.
func (r EnrollRequest) GoString() string { return r.String() }

// EnrollResponse is the answer to POST [PathEnroll], and to POST
// [CertificatePath] (renewal).
type EnrollResponse struct {
	// Firewall is the name in the certificate (its common name).
	Firewall string `json:"firewall"`
	// Certificate is the signed client certificate, PEM.
	Certificate string `json:"certificate"`
	// CA is the controller's CA certificate, PEM.
	CA string `json:"ca"`
	// URL is the controller's agent-facing base URL.
	URL string `json:"url"`
	// DesiredURL and StateURL are the firewall's pull endpoints.
	DesiredURL string `json:"desiredURL"`
	StateURL   string `json:"stateURL"`
}

// RenewRequest is the body of POST [CertificatePath].
type RenewRequest struct {
	// CSR is a PEM certificate request for a fresh ECDSA P-256 key.
	CSR string `json:"csr"`
}
