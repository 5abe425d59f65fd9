package identity

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgit/fwgit/agent/agentconfig"
)

func TestNewAPIKey(t *testing.T) {
	seen := map[string]bool{}
	for range 8 {
		k, err := NewAPIKey()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.RawURLEncoding.DecodeString(k)
		if err != nil || len(raw) != APIKeyBytes {
			t.Errorf("NewAPIKey() = %q: decodes to %d bytes, %v; want %d", k, len(raw), err, APIKeyBytes)
		}
		if len(k) < agentconfig.MinAPIKeyLen {
			t.Errorf("NewAPIKey() has %d characters, below the minimum %d", len(k), agentconfig.MinAPIKeyLen)
		}
		if seen[k] {
			t.Errorf("NewAPIKey() repeated %q", k)
		}
		seen[k] = true
	}
}

func TestInit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etc")
	settings := agentconfig.Default()
	settings.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}
	settings.StateDir = filepath.Join(dir, "state")
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	res, err := Init(InitOptions{Dir: dir, Settings: settings, SANs: []string{"fw1.example.", "198.18.0.5", "fd00::5"}, Now: now})
	if err != nil {
		t.Fatalf("Init: %v", err)
	}

	for _, f := range []struct {
		path string
		mode os.FileMode
	}{{res.EnvFile, 0o600}, {res.KeyFile, 0o600}, {res.CertFile, 0o644}} {
		st, err := os.Stat(f.path)
		if err != nil {
			t.Fatalf("stat %s: %v", f.path, err)
		}
		if st.Mode().Perm() != f.mode {
			t.Errorf("mode of %s = %v, want %v", f.path, st.Mode().Perm(), f.mode)
		}
	}

	// The env file reads back into a valid configuration that names the
	// files Init wrote and holds the key Init returned.
	env, err := os.ReadFile(res.EnvFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := agentconfig.Load(agentconfig.Sources{EnvFile: bytes.NewReader(env), FileName: res.EnvFile})
	if err != nil {
		t.Fatalf("loading the written env file: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("written env file does not validate: %v", err)
	}
	if cfg.APIKey != res.APIKey || cfg.TLSCert != res.CertFile || cfg.TLSKey != res.KeyFile || cfg.StateDir != settings.StateDir {
		t.Errorf("env file settings = key match %v, cert %q, key %q, state %q; want Init's", cfg.APIKey == res.APIKey, cfg.TLSCert, cfg.TLSKey, cfg.StateDir)
	}

	// The key pair loads for TLS, and the fingerprint is SHA-256 over the DER.
	pair, err := tls.LoadX509KeyPair(res.CertFile, res.KeyFile)
	if err != nil {
		t.Fatalf("loading key pair: %v", err)
	}
	sum := sha256.Sum256(pair.Certificate[0])
	if want := "sha256:" + hex.EncodeToString(sum[:]); res.Fingerprint != want {
		t.Errorf("Fingerprint = %s, want %s", res.Fingerprint, want)
	}
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(res.Fingerprint) {
		t.Errorf("Fingerprint %q is not sha256:<64 hex>", res.Fingerprint)
	}
	if fp, err := FingerprintFile(res.CertFile); err != nil || fp != res.Fingerprint {
		t.Errorf("FingerprintFile = %s, %v, want %s", fp, err, res.Fingerprint)
	}

	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, dns := range []string{"localhost", "fw1.example"} {
		if !slices.Contains(cert.DNSNames, dns) {
			t.Errorf("certificate DNS names %v lack %q", cert.DNSNames, dns)
		}
	}
	var ips []string
	for _, ip := range cert.IPAddresses {
		ips = append(ips, ip.String())
	}
	for _, ip := range []string{"127.0.0.1", "198.18.0.5", "fd00::5"} {
		if !slices.Contains(ips, ip) {
			t.Errorf("certificate IPs %v lack %s (loopback comes from the host's interfaces)", ips, ip)
		}
	}
	if pub, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("certificate key algorithm = %v, want ECDSA", cert.PublicKeyAlgorithm)
	}
	if !cert.NotBefore.Before(now) || cert.NotAfter.Before(now.Add(365*24*time.Hour)) {
		t.Errorf("validity %v..%v does not cover %v and the next year", cert.NotBefore, cert.NotAfter, now)
	}
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		t.Errorf("certificate is not self-signed: %v", err)
	}
}

func TestInitRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	first, err := Init(InitOptions{Dir: dir, SkipHostSANs: true, Settings: agentconfig.Default()})
	if err != nil {
		t.Fatal(err)
	}
	before := readAll(t, dir)

	_, err = Init(InitOptions{Dir: dir, SkipHostSANs: true, Settings: agentconfig.Default()})
	var ee *ExistsError
	if !errors.Is(err, ErrExists) || !errors.As(err, &ee) {
		t.Fatalf("second Init = %v, want ErrExists", err)
	}
	if diff := cmp.Diff([]string{first.EnvFile, first.KeyFile}, ee.Paths); diff != "" {
		t.Errorf("ExistsError paths (-want +got):\n%s", diff)
	}
	if !strings.Contains(err.Error(), "--force") {
		t.Errorf("error %q does not say how to override", err)
	}
	if diff := cmp.Diff(before, readAll(t, dir)); diff != "" {
		t.Errorf("refused Init changed files (-before +after):\n%s", diff)
	}

	// Only the key existing is enough to refuse.
	os.Remove(first.EnvFile)
	if _, err := Init(InitOptions{Dir: dir, SkipHostSANs: true, Settings: agentconfig.Default()}); !errors.Is(err, ErrExists) {
		t.Errorf("Init with only the key present = %v, want ErrExists", err)
	}

	second, err := Init(InitOptions{Dir: dir, Force: true, SkipHostSANs: true, Settings: agentconfig.Default()})
	if err != nil {
		t.Fatalf("forced Init: %v", err)
	}
	if second.APIKey == first.APIKey || second.Fingerprint == first.Fingerprint {
		t.Errorf("forced Init kept the old key or certificate")
	}
	if fp, _ := FingerprintFile(second.CertFile); fp != second.Fingerprint {
		t.Errorf("certificate on disk %s, want the new %s", fp, second.Fingerprint)
	}
}

func readAll(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

func TestCertDER(t *testing.T) {
	if _, err := CertDER([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")); !errors.Is(err, ErrNoCertificate) {
		t.Errorf("CertDER(key only) = %v, want ErrNoCertificate", err)
	}
	if _, err := CertDER(nil); !errors.Is(err, ErrNoCertificate) {
		t.Errorf("CertDER(nil) = %v, want ErrNoCertificate", err)
	}
}
