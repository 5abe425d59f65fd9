package enroll

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgit/fwgit/controller/ca"
	"github.com/fwgit/fwgit/internal/agentapi"
)

func csr(t *testing.T, key crypto.Signer) string {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "asks-for-admin"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimSpace(p)))
	return len(p), nil
}

func post(t *testing.T, url string, body any) (int, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func TestHandler(t *testing.T) {
	c := newClock(t0)
	dir := t.TempDir()
	authority, err := ca.LoadOrCreate(dir, t0)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ca.LoadOrCreate(t.TempDir(), t0)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, Options{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	h := Handler(HandlerOptions{Store: s, CA: authority, URL: "https://198.18.0.1:8443/", Now: c.now,
		Log: slog.New(slog.NewTextHandler(io.MultiWriter(&logs, testLogWriter{t}), nil))})
	srv := httptest.NewServer(h)
	defer srv.Close()
	mk := func(fw string, ttl time.Duration, uses int, fp string) agentapi.EnrollToken {
		_, et, err := s.Create(NewTokenOptions{Firewall: fw, TTL: ttl, Uses: uses, URL: "https://198.18.0.1:8443", CAFingerprint: fp})
		if err != nil {
			t.Fatal(err)
		}
		return et
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	goodCSR := csr(t, key)

	// The happy path: a certificate for the token's firewall and our key.
	good := mk("db-1", time.Hour, 1, authority.Fingerprint())
	code, body := post(t, srv.URL, agentapi.EnrollRequest{Token: good.Encode(), CSR: goodCSR})
	if code != http.StatusOK {
		t.Fatalf("enroll = %d %s, want 200", code, body)
	}
	var res agentapi.EnrollResponse
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	want := agentapi.EnrollResponse{Firewall: "db-1", CA: string(authority.CertPEM()), URL: "https://198.18.0.1:8443",
		DesiredURL: "https://198.18.0.1:8443/api/v1/agents/db-1/desired", StateURL: "https://198.18.0.1:8443/api/v1/agents/db-1/state"}
	if diff := cmp.Diff(want, res, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Certificate" }, cmp.Ignore())); diff != "" {
		t.Errorf("answer (-want +got):\n%s", diff)
	}
	b, _ := pem.Decode([]byte(res.Certificate))
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "db-1" || !key.PublicKey.Equal(cert.PublicKey) {
		t.Errorf("certificate for %q with another key: want db-1 and the request's key", cert.Subject.CommonName)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: authority.Pool(), CurrentTime: t0, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate does not verify: %v", err)
	}

	// A bad request is refused before the token is looked at, so it does
	// not spend a use.
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	kept := mk("db-2", time.Hour, 1, authority.Fingerprint())
	if code, body := post(t, srv.URL, agentapi.EnrollRequest{Token: kept.Encode(), CSR: csr(t, rsaKey)}); code != http.StatusBadRequest {
		t.Errorf("RSA request = %d %s, want 400", code, body)
	}
	if code, body := post(t, srv.URL, agentapi.EnrollRequest{Token: kept.Encode(), CSR: goodCSR}); code != http.StatusOK {
		t.Errorf("the use survived a refused request: enroll = %d %s, want 200", code, body)
	}

	// Every refused token gets the same answer.
	expired := mk("db-3", time.Minute, 1, authority.Fingerprint())
	revoked := mk("db-4", time.Hour, 1, authority.Fingerprint())
	if _, err := s.Revoke(revoked.ID); err != nil {
		t.Fatal(err)
	}
	foreign := mk("db-5", time.Hour, 1, other.Fingerprint())
	forged := mk("db-6", time.Hour, 1, authority.Fingerprint())
	forged.Secret = good.Secret
	c.add(time.Minute)
	var first []byte
	for _, tc := range []struct {
		name  string
		token string
	}{
		{"reused past its count", good.Encode()},
		{"expired", expired.Encode()},
		{"revoked", revoked.Encode()},
		{"pins another CA", foreign.Encode()},
		{"wrong secret", forged.Encode()},
		{"malformed", "fwgit1.bm90IGEgdG9rZW4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := post(t, srv.URL, agentapi.EnrollRequest{Token: tc.token, CSR: goodCSR})
			if code != http.StatusUnauthorized {
				t.Fatalf("enroll = %d %s, want 401", code, body)
			}
			if first == nil {
				first = body
			} else if !bytes.Equal(first, body) {
				t.Errorf("refusals differ, telling the client why:\n%s\n%s", first, body)
			}
		})
	}
	if bytes.Contains(logs.Bytes(), []byte(good.Secret)) {
		t.Error("a token secret reached the log")
	}
	if code, _ := post(t, srv.URL, map[string]any{"token": good.Encode(), "csr": goodCSR, "extra": 1}); code != http.StatusBadRequest {
		t.Errorf("unknown field: %d, want 400", code)
	}
}
