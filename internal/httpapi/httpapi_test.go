package httpapi

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestWrap(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	tests := []struct {
		name       string
		h          Handler
		wantStatus int
		wantBody   string
		wantHeader [2]string
	}{
		{"ok", func(w http.ResponseWriter, r *http.Request) error {
			WriteJSON(w, 200, map[string]int{"a": 1})
			return nil
		},
			200, `{"a":1}`, [2]string{"Content-Type", "application/json"}},
		{"http error", func(w http.ResponseWriter, r *http.Request) error {
			return &HTTPError{Status: 409, Code: "Busy", Msg: "apply in progress", Header: http.Header{"Retry-After": {"1"}}}
		}, 409, `{"code":"Busy","message":"apply in progress"}`, [2]string{"Retry-After", "1"}},
		{"custom body", func(w http.ResponseWriter, r *http.Request) error {
			return &HTTPError{Status: 422, Body: map[string]string{"code": "InvalidParameters"}}
		}, 422, `{"code":"InvalidParameters"}`, [2]string{"X-Content-Type-Options", "nosniff"}},
		{"wrapped http error", func(w http.ResponseWriter, r *http.Request) error {
			return errors.Join(errors.New("context"), Errorf(404, "NotFound", "no %s", "x"))
		}, 404, `{"code":"NotFound","message":"no x"}`, [2]string{}},
		{"plain error hides its text", func(w http.ResponseWriter, r *http.Request) error {
			return errors.New("secret detail: key=hunter2")
		}, 500, `{"code":"InternalError","message":"internal error"}`, [2]string{}},
		{"panic", func(w http.ResponseWriter, r *http.Request) error { panic("boom") },
			500, `{"code":"InternalError","message":"internal error"}`, [2]string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Wrap(log, tc.h).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			if rec.Code != tc.wantStatus || strings.TrimSpace(rec.Body.String()) != tc.wantBody {
				t.Errorf("got %d %s, want %d %s", rec.Code, rec.Body, tc.wantStatus, tc.wantBody)
			}
			if k := tc.wantHeader[0]; k != "" && rec.Header().Get(k) != tc.wantHeader[1] {
				t.Errorf("header %s = %q, want %q", k, rec.Header().Get(k), tc.wantHeader[1])
			}
		})
	}
}

func TestDecodeJSON(t *testing.T) {
	type msg struct {
		A int `json:"a"`
	}
	tests := []struct {
		name   string
		body   string
		limit  int64
		status int // 0: success
	}{
		{"ok", `{"a":1}`, 64, 0},
		{"unknown field", `{"a":1,"b":2}`, 64, 400},
		{"trailing data", `{"a":1} {}`, 64, 400},
		{"malformed", `{"a":`, 64, 400},
		{"too large", `{"a":1}` + strings.Repeat(" ", 100), 16, 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m msg
			rec := httptest.NewRecorder()
			err := DecodeJSON(rec, httptest.NewRequest("PUT", "/", io.NopCloser(strings.NewReader(tc.body))), tc.limit, &m)
			var he *HTTPError
			switch {
			case tc.status == 0 && (err != nil || m.A != 1):
				t.Errorf("DecodeJSON = %v, %+v", err, m)
			case tc.status != 0 && (!errors.As(err, &he) || he.Status != tc.status):
				t.Errorf("DecodeJSON = %v, want status %d", err, tc.status)
			}
		})
	}
}

func TestSecretEqual(t *testing.T) {
	tests := []struct {
		got, want string
		eq        bool
	}{
		{"s3cret-token", "s3cret-token", true},
		{"s3cret-token", "s3cret-tokeN", false},
		{"s3cret", "s3cret-token", false},
		{"", "", true},
		{"", "x", false},
	}
	for _, tc := range tests {
		if got := SecretEqual(tc.got, tc.want); got != tc.eq {
			t.Errorf("SecretEqual(%q, %q) = %v, want %v", tc.got, tc.want, got, tc.eq)
		}
	}
}
