package fleettest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/fwgit/fwgit/controller/fleet"
	"github.com/fwgit/fwgit/internal/agentapi"
	"github.com/fwgit/fwgit/internal/httpapi"
)

// Agent is a loopback HTTPS agent. The embedded [fleet.FakeAgent] holds its
// state and can be inspected or steered by the test.
type Agent struct {
	*fleet.FakeAgent
	// URL is the agent's base URL (https://127.0.0.1:port).
	URL string
	// Fingerprint pins the agent's certificate.
	Fingerprint string
	// APIKey is the key the agent accepts.
	APIKey string
	// Cert is the agent's certificate, for CA-based tests.
	Cert *x509.Certificate

	addr    string
	tlsCert tls.Certificate

	mu       sync.Mutex
	srv      *http.Server
	done     chan struct{}
	requests map[string]int
	conns    int
}

// Start starts an agent on a fresh loopback port. Close stops it.
func Start(apiKey string) (*Agent, error) {
	cert, leaf, err := selfSigned()
	if err != nil {
		return nil, err
	}
	a := &Agent{
		FakeAgent:   fleet.NewFakeAgent(),
		APIKey:      apiKey,
		Fingerprint: fleet.Fingerprint(leaf.Raw),
		Cert:        leaf,
		tlsCert:     cert,
		addr:        "127.0.0.1:0",
		requests:    map[string]int{},
	}
	if err := a.Up(); err != nil {
		return nil, err
	}
	a.URL = "https://" + a.addr
	return a, nil
}

// Up starts serving (again) on the agent's address.
func (a *Agent) Up() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.srv != nil {
		return nil
	}
	var ln net.Listener
	var err error
	for range 50 { // the port may linger briefly after Down
		if ln, err = net.Listen("tcp", a.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("fleettest: listening: %w", err)
	}
	a.addr = ln.Addr().String()
	srv := httpapi.NewServer(a.addr, a.handler(), httpapi.DefaultTimeouts, slog.New(slog.DiscardHandler))
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{a.tlsCert}, MinVersion: tls.VersionTLS12}
	srv.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			a.mu.Lock()
			a.conns++
			a.mu.Unlock()
		}
	}
	a.srv = srv
	a.done = make(chan struct{})
	done := a.done
	go func() {
		defer close(done)
		srv.ServeTLS(ln, "", "")
	}()
	return nil
}

// Down stops serving and drops every connection: the agent is unreachable
// until [Agent.Up]. Its state is kept.
func (a *Agent) Down() {
	a.mu.Lock()
	srv, done := a.srv, a.done
	a.srv = nil
	a.mu.Unlock()
	if srv == nil {
		return
	}
	srv.Close()
	<-done
}

// Close stops the agent for good.
func (a *Agent) Close() { a.Down() }

// Requests returns how many requests of kind op ("state", "apply",
// "confirm") the agent answered.
func (a *Agent) Requests(op string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.requests[op]
}

// Conns returns how many TLS connections the agent accepted.
func (a *Agent) Conns() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.conns
}

func (a *Agent) count(op string) {
	a.mu.Lock()
	a.requests[op]++
	a.mu.Unlock()
}

func (a *Agent) handler() http.Handler {
	log := slog.New(slog.DiscardHandler)
	mux := http.NewServeMux()
	mux.Handle("GET /api/v1/state", httpapi.Wrap(log, func(w http.ResponseWriter, r *http.Request) error {
		a.count("state")
		httpapi.WriteJSON(w, http.StatusOK, a.State())
		return nil
	}))
	mux.Handle("PUT /api/v1/ruleset", httpapi.Wrap(log, func(w http.ResponseWriter, r *http.Request) error {
		a.count("apply")
		var req agentapi.RulesetRequest
		if err := httpapi.DecodeJSON(w, r, 64<<20, &req); err != nil {
			return err
		}
		res, err := a.Apply(&req)
		if err != nil {
			return asHTTP(err)
		}
		httpapi.WriteJSON(w, http.StatusOK, res)
		return nil
	}))
	mux.Handle("POST /api/v1/confirm", httpapi.Wrap(log, func(w http.ResponseWriter, r *http.Request) error {
		a.count("confirm")
		var req agentapi.ConfirmRequest
		if err := httpapi.DecodeJSON(w, r, 4<<10, &req); err != nil {
			return err
		}
		if err := a.Confirm(req.Generation); err != nil {
			return asHTTP(err)
		}
		httpapi.WriteJSON(w, http.StatusOK, a.State())
		return nil
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get(agentapi.HeaderAPIKey)), []byte(a.APIKey)) != 1 {
			io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
			httpapi.WriteJSON(w, http.StatusUnauthorized, agentapi.Error{Code: "Unauthorized", Message: "missing or wrong API key"})
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func asHTTP(err error) error {
	var ae *fleet.AgentError
	if errors.As(err, &ae) {
		return &httpapi.HTTPError{Status: ae.Status, Code: ae.Code, Msg: ae.Message}
	}
	return err
}

func selfSigned() (tls.Certificate, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "fwgit-agent test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, leaf, nil
}
