package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fwgit/fwgit/controller/api"
	"github.com/fwgit/fwgit/internal/httpapi"
)

func TestStatusCommand(t *testing.T) {
	now := time.Now()
	resp := api.StatusResponse{
		Revision: api.RevisionInfo{Current: "main@sha1:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", LastGood: "main@sha1:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Errors: 1},
		Firewalls: []api.FirewallStatus{
			{Name: "db-1", Condition: "Unreachable", Reason: "ConnectionFailed", Message: "connection refused",
				DesiredRevision: "main@sha1:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", DesiredDigest: "sha256:0123456789abcdef", Since: now.Add(-3 * time.Minute)},
			{Name: "web-1", Condition: "Ready", Reason: "UpToDate", DesiredDigest: "sha256:fedcba9876543210", AppliedDigest: "sha256:fedcba9876543210", Since: now.Add(-2 * time.Hour)},
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/status" || r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		httpapi.WriteJSON(w, 200, resp)
	}))
	defer srv.Close()
	tokFile := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(tokFile, []byte("tok\n"), 0o600)

	tests := []struct {
		name    string
		args    []string
		want    []string
		wantErr string
	}{
		{name: "table", args: []string{"--token-file", tokFile}, want: []string{
			"revision main@sha1:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa (newest main@sha1:bbbb",
			"NAME", "db-1   Unreachable  main@sha1:aaaaaaaaaaaa  0123456789ab  -        3m",
			"ConnectionFailed: connection refused",
			"web-1  Ready        -                       fedcba987654  =        2h",
		}},
		{name: "json", args: []string{"--token-file", tokFile, "--format", "json"}, want: []string{`"name": "db-1"`, `"condition": "Unreachable"`}},
		{name: "no token", args: nil, wantErr: "bearer token"},
		{name: "bad format", args: []string{"--format", "yaml"}, wantErr: "--format"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := newStatusCmd()
			var out bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetArgs(append([]string{"--controller", srv.URL}, tc.args...))
			err := cmd.ExecuteContext(context.Background())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("status %v error = %v, want %q", tc.args, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

// TestStatusNoRedirect checks that `fwgit status` never follows a redirect:
// the bearer token must not reach another listener on the same host.
func TestStatusNoRedirect(t *testing.T) {
	var leaked string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked = r.Header.Get("Authorization")
		httpapi.WriteJSON(w, 200, api.StatusResponse{})
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/v1/status", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	tokFile := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(tokFile, []byte("secret-token\n"), 0o600)
	cmd := newStatusCmd()
	cmd.SetOut(new(bytes.Buffer))
	cmd.SetArgs([]string{"--controller", srv.URL, "--token-file", tokFile})
	err := cmd.ExecuteContext(context.Background())
	if leaked != "" {
		t.Errorf("redirect target got Authorization %q, want no request with the token", leaked)
	}
	if err == nil || !strings.Contains(err.Error(), "redirect") {
		t.Errorf("status after a redirect: err = %v, want an error naming the redirect", err)
	}
}
