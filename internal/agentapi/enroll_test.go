package agentapi

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func goodToken() EnrollToken {
	return EnrollToken{URL: "https://198.18.0.1:8443", CAFingerprint: "sha256:" + strings.Repeat("ab", 32), Firewall: "db-1",
		ID: "abcdefgh12345678", Secret: base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, MinTokenSecret)), Expires: 1800000000}
}

func TestEnrollTokenRoundTrip(t *testing.T) {
	tok := goodToken()
	s := tok.Encode()
	if !strings.HasPrefix(s, TokenPrefix) || strings.ContainsAny(s, " \n+/=") {
		t.Errorf("Encode() = %q: want %q and base64url only", s, TokenPrefix)
	}
	got, err := ParseEnrollToken("  " + s + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(tok, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestEnrollTokenRedacts(t *testing.T) {
	tok := goodToken()
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "token", tok)
	for _, s := range []string{fmt.Sprint(tok), fmt.Sprintf("%v %+v %#v %s", tok, tok, tok, tok), buf.String()} {
		if strings.Contains(s, tok.Secret) {
			t.Errorf("secret printed: %s", s)
		}
	}
}

func TestEnrollRequestRedacts(t *testing.T) {
	tok := goodToken()
	req := EnrollRequest{Token: tok.Encode(), CSR: "csr"}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "request", req)
	for _, s := range []string{fmt.Sprint(req), fmt.Sprintf("%v %+v %#v %s", req, req, req, req), fmt.Sprintf("%v", &req), buf.String()} {
		if strings.Contains(s, req.Token) || strings.Contains(s, tok.Secret) {
			t.Errorf("token printed: %s", s)
		}
	}
}

func TestParseEnrollTokenRefuses(t *testing.T) {
	mod := func(f func(*EnrollToken)) string { tok := goodToken(); f(&tok); return tok.Encode() }
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"other prefix", "fwgit2." + strings.TrimPrefix(goodToken().Encode(), TokenPrefix)},
		{"not base64", TokenPrefix + "!!!"},
		{"not JSON", TokenPrefix + base64.RawURLEncoding.EncodeToString([]byte("hello"))},
		{"unknown field", TokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(`{"x":1}`))},
		{"http URL", mod(func(t *EnrollToken) { t.URL = "http://198.18.0.1" })},
		{"URL with user", mod(func(t *EnrollToken) { t.URL = "https://u:p@198.18.0.1" })},
		{"bad fingerprint", mod(func(t *EnrollToken) { t.CAFingerprint = "sha1:abc" })},
		{"no firewall", mod(func(t *EnrollToken) { t.Firewall = "" })},
		{"bad id", mod(func(t *EnrollToken) { t.ID = "A/B" })},
		{"short secret", mod(func(t *EnrollToken) { t.Secret = base64.RawURLEncoding.EncodeToString(make([]byte, 16)) })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseEnrollToken(tc.in); !errors.Is(err, ErrBadToken) {
				t.Errorf("ParseEnrollToken = %v, want ErrBadToken", err)
			}
		})
	}
}
