package ca

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
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fwgit/fwgit/internal/agentapi"
)

// File names in the state directory.
const (
	// FileName holds the CA certificate and its private key (mode 0600).
	FileName = "ca.pem"
	// CertFileName holds the CA certificate alone (mode 0644), for
	// operators and tools that want to trust the agent-facing listener.
	CertFileName = "ca.crt"
)

// Validity of what the CA signs.
const (
	// Lifetime is how long the CA certificate is valid. Agents pin it by
	// fingerprint; replacing it means enrolling every agent again, so it is
	// long.
	Lifetime = 10 * 365 * 24 * time.Hour
	// ServerLifetime is the validity of a server certificate. The listener
	// issues a new one in memory well before it ends.
	ServerLifetime = 365 * 24 * time.Hour
	// DefaultClientLifetime is the validity of an agent's client
	// certificate; agents renew it over mTLS when two thirds have passed.
	DefaultClientLifetime = 90 * 24 * time.Hour
)

// ErrBadCSR is matched by every certificate request [CheckCSR] refuses.
var ErrBadCSR = errors.New("ca: unacceptable certificate request")

// ErrCorrupt reports a CA file that cannot be used as it is. The CA is
// never replaced silently: every enrolled agent pins it.
var ErrCorrupt = errors.New("ca: unusable CA file")

// CA is the controller's certificate authority. It is immutable after
// [LoadOrCreate] and safe for concurrent use.
type CA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
	fp      string
}

// LoadOrCreate loads dir/[FileName], or creates it (and the directory, mode
// 0700) when it does not exist: an ECDSA P-256 key and a self-signed CA
// certificate valid from an hour before now for [Lifetime]. Creation is
// atomic and never replaces a file: when two processes (the controller and
// `fwgit token create`) race, both end up with the one that was linked
// first. It also (re)writes dir/[CertFileName].
func LoadOrCreate(dir string, now time.Time) (*CA, error) {
	path := filepath.Join(dir, FileName)
	c, err := Load(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		if err == nil {
			err = c.writeCert(dir)
		}
		return c, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating state directory: %w", err)
	}
	data, err := newCA(now)
	if err != nil {
		return nil, err
	}
	if err := createExclusive(path, data); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("writing CA: %w", err)
	}
	if c, err = Load(path); err != nil {
		return nil, err
	}
	return c, c.writeCert(dir)
}

// Load reads a CA file written by [LoadOrCreate]. A file readable by group
// or others is refused: it holds the key that signs every agent.
func Load(path string) (*CA, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o; it holds the CA key and must be 0600", ErrCorrupt, path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func parse(data []byte) (*CA, error) {
	c := &CA{}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		switch b.Type {
		case "CERTIFICATE":
			cert, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: parsing certificate: %v", ErrCorrupt, err)
			}
			c.cert = cert
			c.certPEM = pem.EncodeToMemory(b)
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: parsing private key", ErrCorrupt)
			}
			ek, ok := k.(*ecdsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("%w: private key is not ECDSA", ErrCorrupt)
			}
			c.key = ek
		}
	}
	switch {
	case c.cert == nil || c.key == nil:
		return nil, fmt.Errorf("%w: want one CERTIFICATE and one PRIVATE KEY block", ErrCorrupt)
	case !c.cert.IsCA:
		return nil, fmt.Errorf("%w: certificate is not a CA", ErrCorrupt)
	case !c.key.PublicKey.Equal(c.cert.PublicKey):
		return nil, fmt.Errorf("%w: key does not match the certificate", ErrCorrupt)
	}
	c.fp = Fingerprint(c.cert.Raw)
	return c, nil
}

func newCA(now time.Time) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating CA key: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, err
	}
	// The serial's prefix tells two controllers' CAs apart in tools that
	// only show the subject.
	tag := serial.Text(16)
	tag = tag[:min(len(tag), 8)]
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "fwgit controller CA " + tag, Organization: []string{"fwgit"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(Lifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("creating CA certificate: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding CA key: %w", err)
	}
	var buf bytes.Buffer
	pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	pem.Encode(&buf, &pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	return buf.Bytes(), nil
}

// createExclusive writes data to a temporary file (0600) beside path, syncs
// it and hard-links it to path, which fails with fs.ErrExist rather than
// replace an existing file.
func createExclusive(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// writeCert writes the public CA certificate beside the CA file when it is
// missing or different.
func (c *CA) writeCert(dir string) error {
	path := filepath.Join(dir, CertFileName)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, c.certPEM) {
		return nil
	}
	f, err := os.CreateTemp(dir, "."+CertFileName+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing CA certificate: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(c.certPEM)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("writing CA certificate: %w", err)
	}
	return nil
}

// Fingerprint returns "sha256:" and the lower-case hex SHA-256 of a
// certificate's DER.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Fingerprint returns the CA certificate's fingerprint, the pin that
// enrollment tokens carry.
func (c *CA) Fingerprint() string { return c.fp }

// Certificate returns the CA certificate. Callers must not modify it.
func (c *CA) Certificate() *x509.Certificate { return c.cert }

// CertPEM returns the CA certificate in PEM.
func (c *CA) CertPEM() []byte { return bytes.Clone(c.certPEM) }

// Pool returns a new pool holding only the CA certificate.
func (c *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.cert)
	return p
}

// ServerCertificate issues a certificate for the agent-facing listener with
// a fresh key, valid for [ServerLifetime] (never beyond the CA). Its names
// are [agentapi.ControllerServerName] plus names, each a DNS name or an IP
// address. The chain holds the leaf and the CA.
func (c *CA) ServerCertificate(names []string, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generating server key: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: agentapi.ControllerServerName, Organization: []string{"fwgit"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     c.capped(now.Add(ServerLifetime)),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{agentapi.ControllerServerName},
	}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if a, err := netip.ParseAddr(n); err == nil {
			ip := net.IP(a.Unmap().WithZone("").AsSlice())
			if !slices.ContainsFunc(tmpl.IPAddresses, ip.Equal) {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			}
			continue
		}
		n = strings.ToLower(strings.TrimSuffix(n, "."))
		if n != "" && !slices.Contains(tmpl.DNSNames, n) {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("creating server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("parsing server certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der, c.cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// SignClient signs a client certificate for the public key of csr (which
// [CheckCSR] has accepted) with common name name, valid from five minutes
// before now for lifetime (never beyond the CA), usable only for TLS client
// authentication. It returns the certificate's DER. Whatever subject the
// request asks for is ignored: the name comes from the controller.
func (c *CA) SignClient(csr *x509.CertificateRequest, name string, lifetime time.Duration, now time.Time) ([]byte, error) {
	if name == "" {
		return nil, errors.New("signing client certificate: empty name")
	}
	if lifetime <= 0 {
		lifetime = DefaultClientLifetime
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name, Organization: []string{"fwgit-agent"}},
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     c.capped(now.Add(lifetime)),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, csr.PublicKey, c.key)
	if err != nil {
		return nil, fmt.Errorf("signing client certificate: %w", err)
	}
	return der, nil
}

func (c *CA) capped(t time.Time) time.Time {
	if t.After(c.cert.NotAfter) {
		return c.cert.NotAfter
	}
	return t
}

// CheckCSR parses a PEM certificate request and accepts it only when its
// key is ECDSA P-256 and its signature (the proof that the sender holds the
// private key) verifies. Errors match [ErrBadCSR].
func CheckCSR(pemData []byte) (*x509.CertificateRequest, error) {
	b, _ := pem.Decode(pemData)
	if b == nil || b.Type != "CERTIFICATE REQUEST" {
		return nil, fmt.Errorf("%w: no PEM CERTIFICATE REQUEST block", ErrBadCSR)
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCSR, err)
	}
	pub, ok := csr.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: key must be ECDSA P-256", ErrBadCSR)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: signature does not verify", ErrBadCSR)
	}
	return csr, nil
}

func serialNumber() (*big.Int, error) {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generating serial number: %w", err)
	}
	return s.Add(s, big.NewInt(1)), nil // never zero
}
