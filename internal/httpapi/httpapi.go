package httpapi

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// HTTPError is an error with a status code and a message safe to show the
// client. Code is a short machine-readable word such as "InvalidParameters".
// Body, when set, is written as is instead of {code, message}.
type HTTPError struct {
	Status int
	Code   string
	Msg    string
	Body   any
	// Header holds extra response headers (e.g. Allow, WWW-Authenticate).
	Header http.Header
	// Err is the underlying cause; it is logged, never sent.
	Err error
}

func (e *HTTPError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %s: %v", e.Status, e.Code, e.Msg, e.Err)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Msg)
}

func (e *HTTPError) Unwrap() error { return e.Err }

// Errorf returns an [HTTPError] with a formatted message.
func Errorf(status int, code, format string, args ...any) *HTTPError {
	return &HTTPError{Status: status, Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Handler is an http handler that returns an error instead of writing one.
type Handler func(w http.ResponseWriter, r *http.Request) error

// Wrap turns h into an http.Handler. An [HTTPError] becomes its status and
// JSON body; any other error becomes a 500 with a generic body and is logged
// in full. A panic is recovered, logged and answered with a 500.
func Wrap(log *slog.Logger, h Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.Error("panic in handler", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p))
				WriteJSON(w, http.StatusInternalServerError, errorBody{"InternalError", "internal error"})
			}
		}()
		err := h(w, r)
		if err == nil {
			return
		}
		var he *HTTPError
		if errors.As(err, &he) {
			for k, vs := range he.Header {
				for _, v := range vs {
					w.Header().Add(k, v)
				}
			}
			if he.Status >= 500 {
				log.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", he.Status, "error", err)
			}
			if he.Body != nil {
				WriteJSON(w, he.Status, he.Body)
			} else {
				WriteJSON(w, he.Status, errorBody{he.Code, he.Msg})
			}
			return
		}
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		WriteJSON(w, http.StatusInternalServerError, errorBody{"InternalError", "internal error"})
	})
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// WriteJSON writes v as JSON with the given status. For HEAD requests the
// caller's ResponseWriter discards the body, as net/http does.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"code":"InternalError","message":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(b)
	w.Write([]byte("\n"))
}

// DecodeJSON reads a JSON body of at most limit bytes into v, rejecting
// unknown fields and trailing data. Errors are [HTTPError]s (400 or 413).
// The whole body is read, so a valid document followed by more than limit
// bytes of anything is still refused as too large.
func DecodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	tooLarge := func(err error) bool {
		var mbe *http.MaxBytesError
		return errors.As(err, &mbe)
	}
	large := &HTTPError{Status: http.StatusRequestEntityTooLarge, Code: "RequestEntityTooLarge", Msg: fmt.Sprintf("request body over %d bytes", limit)}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if tooLarge(err) {
			return large
		}
		return &HTTPError{Status: http.StatusBadRequest, Code: "InvalidContent", Msg: "invalid JSON: " + err.Error()}
	}
	rest, err := io.ReadAll(io.MultiReader(dec.Buffered(), r.Body))
	switch {
	case tooLarge(err):
		return large
	case err != nil:
		return &HTTPError{Status: http.StatusBadRequest, Code: "InvalidContent", Msg: "reading body: " + err.Error()}
	case len(bytes.TrimSpace(rest)) > 0:
		return &HTTPError{Status: http.StatusBadRequest, Code: "InvalidContent", Msg: "invalid JSON: trailing data"}
	}
	return nil
}

// Timeouts are the server timeouts every fwgit server sets.
type Timeouts struct {
	ReadHeader, Read, Write, Idle time.Duration
}

// DefaultTimeouts suit API servers with small requests. Long-poll servers
// raise Write above their longest wait.
var DefaultTimeouts = Timeouts{ReadHeader: 5 * time.Second, Read: 30 * time.Second, Write: 60 * time.Second, Idle: 120 * time.Second}

// NewServer returns an http.Server with the given handler, timeouts and
// a 64 KiB header limit, logging server errors through log.
func NewServer(addr string, h http.Handler, t Timeouts, log *slog.Logger) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// SecretEqual reports whether got equals want, in time that depends on
// neither's content nor length: both are hashed first, so a timing
// difference cannot reveal how long the secret is.
func SecretEqual(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}
