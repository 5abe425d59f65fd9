package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgit/fwgit/internal/agentapi"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestLoadOrCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	c1, err := LoadOrCreate(dir, t0)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("mode of %s = %04o, want 0600", FileName, got)
	}
	crt, err := os.ReadFile(filepath.Join(dir, CertFileName))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(c1.CertPEM()), string(crt)); diff != "" {
		t.Errorf("%s differs from the CA certificate (-want +got):\n%s", CertFileName, diff)
	}
	cert := c1.Certificate()
	if !cert.IsCA || cert.NotAfter.Sub(t0) < 9*365*24*time.Hour {
		t.Errorf("CA certificate: IsCA %v, NotAfter %v; want a CA valid about ten years", cert.IsCA, cert.NotAfter)
	}
	if got, want := c1.Fingerprint(), Fingerprint(cert.Raw); got != want {
		t.Errorf("Fingerprint() = %s, want %s", got, want)
	}

	c2, err := LoadOrCreate(dir, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if c2.Fingerprint() != c1.Fingerprint() {
		t.Errorf("second LoadOrCreate made a new CA: %s, want %s", c2.Fingerprint(), c1.Fingerprint())
	}

	if err := os.Chmod(filepath.Join(dir, FileName), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(dir, t0); !errors.Is(err, ErrCorrupt) {
		t.Errorf("LoadOrCreate with a world-readable key: err = %v, want ErrCorrupt", err)
	}
}

func TestLoadOrCreateRace(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	fps := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c, err := LoadOrCreate(dir, t0)
			if err != nil {
				t.Error(err)
				return
			}
			fps[i] = c.Fingerprint()
		})
	}
	wg.Wait()
	for i := 1; i < n; i++ {
		if fps[i] != fps[0] {
			t.Fatalf("racing LoadOrCreate calls got different CAs: %s and %s", fps[0], fps[i])
		}
	}
}

func TestLoadCorrupt(t *testing.T) {
	good, err := newCA(t0)
	if err != nil {
		t.Fatal(err)
	}
	other, err := newCA(t0)
	if err != nil {
		t.Fatal(err)
	}
	block := func(data []byte, typ string) []byte {
		for {
			var b *pem.Block
			b, data = pem.Decode(data)
			if b == nil {
				return nil
			}
			if b.Type == typ {
				return pem.EncodeToMemory(b)
			}
		}
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"cert only", block(good, "CERTIFICATE")},
		{"key only", block(good, "PRIVATE KEY")},
		{"mismatched key", append(block(good, "CERTIFICATE"), block(other, "PRIVATE KEY")...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), FileName)
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(path); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Load = %v, want ErrCorrupt", err)
			}
		})
	}
}

func newTestCA(t *testing.T) *CA {
	t.Helper()
	c, err := LoadOrCreate(t.TempDir(), t0)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestServerCertificate(t *testing.T) {
	c := newTestCA(t)
	tc, err := c.ServerCertificate([]string{"Controller.Example.COM.", "198.18.0.1", "fd00::1", "198.18.0.1"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	leaf := tc.Leaf
	if diff := cmp.Diff([]string{agentapi.ControllerServerName, "controller.example.com"}, leaf.DNSNames); diff != "" {
		t.Errorf("DNS names (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"198.18.0.1", "fd00::1"}, ipStrings(leaf.IPAddresses)); diff != "" {
		t.Errorf("IP addresses (-want +got):\n%s", diff)
	}
	for _, name := range []string{agentapi.ControllerServerName, "controller.example.com", "198.18.0.1"} {
		opts := x509.VerifyOptions{Roots: c.Pool(), DNSName: name, CurrentTime: t0.Add(24 * time.Hour)}
		if _, err := leaf.Verify(opts); err != nil {
			t.Errorf("server certificate does not verify for %s: %v", name, err)
		}
	}
	opts := x509.VerifyOptions{Roots: c.Pool(), CurrentTime: t0, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if _, err := leaf.Verify(opts); err == nil {
		t.Error("server certificate verifies for client auth; want server auth only")
	}
	if len(tc.Certificate) != 2 {
		t.Errorf("chain has %d certificates, want leaf and CA", len(tc.Certificate))
	}
}

func ipStrings(ips []net.IP) []string {
	var out []string
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return out
}

func csrPEM(t *testing.T, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "ignored"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func TestCheckCSR(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	good := csrPEM(t, p256)
	// Flip a bit of the signature: the request no longer proves
	// possession of the key.
	b, _ := pem.Decode(good)
	bad := append([]byte(nil), b.Bytes...)
	bad[len(bad)-3] ^= 0x40
	tampered := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: bad})

	for _, tc := range []struct {
		name string
		pem  []byte
		ok   bool
	}{
		{"P-256", good, true},
		{"P-384", csrPEM(t, p384), false},
		{"RSA", csrPEM(t, rsaKey), false},
		{"Ed25519", csrPEM(t, edKey), false},
		{"tampered signature", tampered, false},
		{"not PEM", []byte("hello"), false},
		{"wrong block type", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.Bytes}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CheckCSR(tc.pem)
			if tc.ok && err != nil {
				t.Errorf("CheckCSR = %v, want nil", err)
			}
			if !tc.ok && !errors.Is(err, ErrBadCSR) {
				t.Errorf("CheckCSR = %v, want ErrBadCSR", err)
			}
		})
	}
}

func TestSignClient(t *testing.T) {
	c := newTestCA(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, err := CheckCSR(csrPEM(t, key))
	if err != nil {
		t.Fatal(err)
	}
	der, err := c.SignClient(csr, "db-1", 0, t0)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "db-1" {
		t.Errorf("common name = %q, want db-1 (the request's subject is ignored)", cert.Subject.CommonName)
	}
	if got := cert.NotAfter.Sub(t0); got != DefaultClientLifetime {
		t.Errorf("lifetime = %v, want %v", got, DefaultClientLifetime)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		t.Error("certificate is not for the request's key")
	}
	client := x509.VerifyOptions{Roots: c.Pool(), CurrentTime: t0, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if _, err := cert.Verify(client); err != nil {
		t.Errorf("client certificate does not verify for client auth: %v", err)
	}
	server := x509.VerifyOptions{Roots: c.Pool(), CurrentTime: t0}
	if _, err := cert.Verify(server); err == nil {
		t.Error("client certificate verifies as a server certificate; an agent could impersonate the controller")
	}
	long, err := c.SignClient(csr, "db-1", 20*Lifetime, t0)
	if err != nil {
		t.Fatal(err)
	}
	lc, _ := x509.ParseCertificate(long)
	if !lc.NotAfter.Equal(c.Certificate().NotAfter) {
		t.Errorf("certificate asked to outlive the CA ends %v, want the CA's end %v", lc.NotAfter, c.Certificate().NotAfter)
	}
}
