package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"
)

// APIKeyBytes is how many random bytes an API key holds; base64url makes
// them 43 characters.
const APIKeyBytes = 32

// CertValidity is how long a self-signed certificate is valid. Controllers
// pin it by fingerprint rather than trusting a CA, so expiry adds no
// security; it only forces a re-pin. Ten years keeps that an explicit act.
const CertValidity = 10 * 365 * 24 * time.Hour

// NewAPIKey returns a fresh API key: [APIKeyBytes] bytes from crypto/rand,
// base64url without padding.
func NewAPIKey() (string, error) {
	b := make([]byte, APIKeyBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("reading random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// SANs are the names and addresses a certificate is valid for.
type SANs struct {
	DNS []string
	IPs []netip.Addr
}

// Add sorts s into a DNS name or an IP address.
func (s *SANs) Add(name string) {
	if a, err := netip.ParseAddr(name); err == nil {
		a = a.WithZone("").Unmap()
		if !slices.Contains(s.IPs, a) {
			s.IPs = append(s.IPs, a)
		}
		return
	}
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if name != "" && !slices.Contains(s.DNS, name) {
		s.DNS = append(s.DNS, name)
	}
}

// HostSANs returns the host's name, "localhost", and every address of its
// network interfaces (link-local ones included, without zones).
func HostSANs() (SANs, error) {
	var s SANs
	if h, err := os.Hostname(); err == nil {
		s.Add(h)
	}
	s.Add("localhost")
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return s, fmt.Errorf("listing interface addresses: %w", err)
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			s.Add(p.Addr().String())
		}
	}
	return s, nil
}

// GenerateKey returns a fresh ECDSA P-256 key.
func GenerateKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating ECDSA key: %w", err)
	}
	return k, nil
}

// SelfSigned returns the DER of a self-signed server certificate for key,
// valid from an hour before now for [CertValidity], with sans as its subject
// alternative names and the first DNS name as its common name.
func SelfSigned(key *ecdsa.PrivateKey, sans SANs, now time.Time) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generating serial number: %w", err)
	}
	cn := "fwgit-agent"
	if len(sans.DNS) > 0 {
		cn = sans.DNS[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"fwgit-agent"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CertValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              sans.DNS,
	}
	for _, a := range sans.IPs {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.IP(a.AsSlice()))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("creating certificate: %w", err)
	}
	return der, nil
}

// Fingerprint returns "sha256:" and the lower-case hex SHA-256 of a
// certificate's DER, the form spec.agent.fingerprint pins.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ErrNoCertificate reports a PEM file without a CERTIFICATE block.
var ErrNoCertificate = errors.New("identity: no certificate in PEM data")

// CertDER returns the DER of the first certificate in PEM data.
func CertDER(pemData []byte) ([]byte, error) {
	for {
		var b *pem.Block
		b, pemData = pem.Decode(pemData)
		if b == nil {
			return nil, ErrNoCertificate
		}
		if b.Type == "CERTIFICATE" {
			return b.Bytes, nil
		}
	}
}

// FingerprintFile returns the [Fingerprint] of the first certificate in a
// PEM file.
func FingerprintFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	der, err := CertDER(data)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return Fingerprint(der), nil
}

func encodeKey(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
