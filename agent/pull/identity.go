package pull

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fwgit/fwgit/agent/internal/atomicfile"
	"github.com/fwgit/fwgit/internal/agentapi"
)

// File names in the agent's configuration directory.
const (
	// ConfigFileName holds the controller URL and the firewall name; its
	// presence means the agent is enrolled.
	ConfigFileName = "pull.json"
	// KeyPairFileName holds the client certificate and its private key
	// (mode 0600).
	KeyPairFileName = "pull.pem"
	// CAFileName holds the controller's CA certificate.
	CAFileName = "pull-ca.crt"
)

// ErrNotEnrolled reports a directory without an enrollment.
var ErrNotEnrolled = errors.New("pull: not enrolled (run `fwgit-agent enroll TOKEN`)")

// FingerprintError reports a controller whose certificate chain does not
// hold the CA the enrollment token pins.
type FingerprintError struct {
	Want string
	// Got lists the fingerprints of the certificates presented.
	Got []string
}

func (e *FingerprintError) Error() string {
	return fmt.Sprintf("the controller's certificate chain does not hold the pinned CA %s (it presented %v)", e.Want, e.Got)
}

// settings is the content of pull.json.
type settings struct {
	URL           string    `json:"url"`
	Firewall      string    `json:"firewall"`
	CAFingerprint string    `json:"caFingerprint"`
	EnrolledAt    time.Time `json:"enrolledAt"`
}

// Identity is an enrolled agent's pull-mode credentials. Its private key
// never prints: Identity has no exported field holding it and redacts
// itself in logs.
type Identity struct {
	// Dir is the configuration directory.
	Dir string
	// URL is the controller's agent-facing base URL.
	URL string
	// Firewall is the name in the client certificate.
	Firewall string
	// CA is the controller's CA certificate.
	CA *x509.Certificate

	cert tls.Certificate
}

// Certificate returns the client certificate (with its Leaf set).
func (id *Identity) Certificate() tls.Certificate { return id.cert }

// String names the identity without its key.
func (id *Identity) String() string {
	return fmt.Sprintf("%s at %s (certificate until %s)", id.Firewall, id.URL, id.cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
}

// Enrolled reports whether dir holds an enrollment.
func Enrolled(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, ConfigFileName))
	return err == nil
}

// Load reads the identity [Enroll] stored in dir. It checks that the key
// pair matches, that the certificate chains to the stored CA, and that the
// CA is the one pinned at enrollment.
func Load(dir string) (*Identity, error) {
	b, err := os.ReadFile(filepath.Join(dir, ConfigFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotEnrolled
	}
	if err != nil {
		return nil, err
	}
	var s settings
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("reading %s: %w", ConfigFileName, err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, CAFileName))
	if err != nil {
		return nil, err
	}
	caCert, err := parseCert(caPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", CAFileName, err)
	}
	if fp := fingerprint(caCert.Raw); fp != s.CAFingerprint {
		return nil, fmt.Errorf("%s: %w", CAFileName, &FingerprintError{Want: s.CAFingerprint, Got: []string{fp}})
	}
	kp, err := os.ReadFile(filepath.Join(dir, KeyPairFileName))
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(kp, kp)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", KeyPairFileName, err)
	}
	id := &Identity{Dir: dir, URL: s.URL, Firewall: s.Firewall, CA: caCert, cert: cert}
	if err := id.check(cert.Leaf); err != nil {
		return nil, fmt.Errorf("%s: %w", KeyPairFileName, err)
	}
	return id, nil
}

// check verifies that leaf is a client certificate for id.Firewall signed
// by id.CA. Expiry is not checked here: an expired certificate is reported
// by the controller, and the error says what to do.
func (id *Identity) check(leaf *x509.Certificate) error {
	opts := x509.VerifyOptions{Roots: pool(id.CA), CurrentTime: leaf.NotBefore.Add(time.Second),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if _, err := leaf.Verify(opts); err != nil {
		return fmt.Errorf("client certificate does not chain to the controller's CA: %w", err)
	}
	if leaf.Subject.CommonName != id.Firewall {
		return fmt.Errorf("client certificate is for %q, not %q", leaf.Subject.CommonName, id.Firewall)
	}
	return nil
}

// save writes the identity: the key pair first (0600), then the CA, then
// pull.json, which marks the enrollment complete. Each file is replaced
// atomically.
func (id *Identity) save(key *ecdsa.PrivateKey, certDER []byte, now time.Time) error {
	if err := os.MkdirAll(id.Dir, 0o700); err != nil {
		return err
	}
	if err := id.saveKeyPair(key, certDER); err != nil {
		return err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: id.CA.Raw})
	if err := atomicfile.WriteFile(filepath.Join(id.Dir, CAFileName), caPEM, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", CAFileName, err)
	}
	b, err := json.MarshalIndent(settings{URL: id.URL, Firewall: id.Firewall, CAFingerprint: fingerprint(id.CA.Raw), EnrolledAt: now.UTC()}, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(id.Dir, ConfigFileName), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", ConfigFileName, err)
	}
	return nil
}

// saveKeyPair writes certificate and key into one file, so that a crash
// never leaves a key beside another key's certificate.
func (id *Identity) saveKeyPair(key *ecdsa.PrivateKey, certDER []byte) error {
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encoding private key: %w", err)
	}
	var buf bytes.Buffer
	pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: certDER})
	pem.Encode(&buf, &pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	if err := atomicfile.WriteFile(filepath.Join(id.Dir, KeyPairFileName), buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", KeyPairFileName, err)
	}
	cert, err := tls.X509KeyPair(buf.Bytes(), buf.Bytes())
	if err != nil {
		return fmt.Errorf("loading the new key pair: %w", err)
	}
	id.cert = cert
	return nil
}

// newKeyAndCSR returns a fresh ECDSA P-256 key and a PEM certificate
// request for it.
func newKeyAndCSR(name string) (*ecdsa.PrivateKey, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", fmt.Errorf("generating key: %w", err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}}, key)
	if err != nil {
		return nil, "", fmt.Errorf("creating certificate request: %w", err)
	}
	return key, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), nil
}

// acceptCertificate checks a certificate the controller signed for key:
// it must be for key, for firewall name, and chain to caCert for client
// authentication.
func acceptCertificate(certPEM string, key *ecdsa.PrivateKey, name string, caCert *x509.Certificate) ([]byte, error) {
	cert, err := parseCert([]byte(certPEM))
	if err != nil {
		return nil, err
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("the controller signed another key")
	}
	id := &Identity{Firewall: name, CA: caCert}
	if err := id.check(cert); err != nil {
		return nil, err
	}
	return cert.Raw, nil
}

func parseCert(pemData []byte) (*x509.Certificate, error) {
	for {
		var b *pem.Block
		b, pemData = pem.Decode(pemData)
		if b == nil {
			return nil, errors.New("no PEM certificate")
		}
		if b.Type == "CERTIFICATE" {
			return x509.ParseCertificate(b.Bytes)
		}
	}
}

func pool(c *x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c)
	return p
}

func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// verifyController checks the controller's chain: a certificate in it must
// be the CA pinned by fp, and the leaf must chain to that CA as a server
// certificate for agentapi.ControllerServerName.
func verifyController(certs []*x509.Certificate, fp string) error {
	if len(certs) == 0 {
		return errors.New("the controller presented no certificate")
	}
	var ca *x509.Certificate
	var got []string
	for _, c := range certs {
		f := fingerprint(c.Raw)
		got = append(got, f)
		if f == fp && c.IsCA {
			ca = c
		}
	}
	if ca == nil {
		return &FingerprintError{Want: fp, Got: got}
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: pool(ca), DNSName: agentapi.ControllerServerName,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if err != nil {
		return fmt.Errorf("verifying the controller's certificate: %w", err)
	}
	return nil
}

// pinnedTLS returns the TLS settings of the enrollment request: the chain
// is verified in VerifyConnection against the CA that fp pins, because the
// CA itself only becomes known during the handshake.
func pinnedTLS(fp string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		// Go's default verification needs the CA beforehand; the token
		// holds only its fingerprint. VerifyConnection below does the
		// whole verification (pin, chain, usage, name) instead.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyController(cs.PeerCertificates, fp)
		},
	}
}
