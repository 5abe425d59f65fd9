package enroll

import (
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/fwgit/fwgit/controller/ca"
	"github.com/fwgit/fwgit/internal/agentapi"
	"github.com/fwgit/fwgit/internal/httpapi"
	"github.com/fwgit/fwgit/internal/logfield"
)

// MaxRequestBody caps the body of POST /api/v1/enroll: a token and a CSR
// are well under 4 KiB.
const MaxRequestBody = 64 << 10

// HandlerOptions configure [Handler].
type HandlerOptions struct {
	// Store holds the tokens. Required.
	Store *Store
	// CA signs the client certificates. Required.
	CA *ca.CA
	// URL is the agent-facing base URL returned to the agent. Required.
	URL string
	// ClientLifetime is the validity of the certificates signed
	// (default ca.DefaultClientLifetime).
	ClientLifetime time.Duration
	// Now defaults to time.Now.
	Now func() time.Time
	// Log defaults to a logger that discards everything.
	Log *slog.Logger
}

// errInvalidToken is the one answer to every refused token, so a client
// cannot tell unknown, expired, used-up and revoked tokens apart.
var errInvalidToken = &httpapi.HTTPError{Status: http.StatusUnauthorized, Code: "InvalidToken",
	Msg: "the enrollment token is not valid (unknown, expired, used up or revoked): create a new one with `fwgit token create`"}

// Handler returns the handler of POST [agentapi.PathEnroll]. It needs no
// client certificate: the token authenticates the request. It checks the
// certificate request first (an ECDSA P-256 key and a valid signature), so
// a bad request never consumes a use; then redeems the token and signs a
// client certificate whose common name is the firewall the token was
// created for, whatever the request asks.
func Handler(o HandlerOptions) http.Handler {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.ClientLifetime <= 0 {
		o.ClientLifetime = ca.DefaultClientLifetime
	}
	return httpapi.Wrap(o.Log, func(w http.ResponseWriter, r *http.Request) error {
		if r.Method != http.MethodPost {
			return &httpapi.HTTPError{Status: http.StatusMethodNotAllowed, Code: "MethodNotAllowed", Msg: "use POST", Header: http.Header{"Allow": {"POST"}}}
		}
		var req agentapi.EnrollRequest
		if err := httpapi.DecodeJSON(w, r, MaxRequestBody, &req); err != nil {
			return err
		}
		csr, err := ca.CheckCSR([]byte(req.CSR))
		if err != nil {
			return &httpapi.HTTPError{Status: http.StatusBadRequest, Code: "BadCSR", Msg: strings.TrimPrefix(err.Error(), "ca: "), Err: err}
		}
		log := o.Log.With(logfield.Remote, r.RemoteAddr)
		tok, err := agentapi.ParseEnrollToken(req.Token)
		if err != nil {
			log.Warn("enrollment refused", logfield.Error, err)
			return errInvalidToken
		}
		log = log.With(logfield.Token, tok.ID)
		secret, _ := tok.SecretBytes() // checked by ParseEnrollToken
		if tok.CAFingerprint != o.CA.Fingerprint() {
			log.Warn("enrollment refused", logfield.Error, "token pins another CA")
			return errInvalidToken
		}
		rec, err := o.Store.Redeem(tok.ID, secret)
		if errors.Is(err, ErrInvalidToken) {
			log.Warn("enrollment refused", logfield.Error, err)
			return errInvalidToken
		}
		if err != nil {
			return err
		}
		der, err := o.CA.SignClient(csr, rec.Firewall, o.ClientLifetime, o.Now())
		if err != nil {
			return err
		}
		log.Info("agent enrolled", logfield.Firewall, rec.Firewall, "uses_left", rec.Remaining())
		httpapi.WriteJSON(w, http.StatusOK, Response(o.URL, rec.Firewall, der, o.CA))
		return nil
	})
}

// Response builds the answer that carries a signed certificate: the
// certificate, the CA and the firewall's pull URLs under base.
func Response(base, firewall string, der []byte, authority *ca.CA) agentapi.EnrollResponse {
	base = strings.TrimSuffix(base, "/")
	return agentapi.EnrollResponse{
		Firewall:    firewall,
		Certificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		CA:          string(authority.CertPEM()),
		URL:         base,
		DesiredURL:  base + agentapi.DesiredPath(firewall),
		StateURL:    base + agentapi.StatePath(firewall),
	}
}
