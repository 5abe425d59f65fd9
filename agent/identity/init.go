package identity

import (
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fwgit/fwgit/agent/agentconfig"
	"github.com/fwgit/fwgit/agent/internal/atomicfile"
)

// File names [Init] writes in its directory.
const (
	EnvFileName  = "agent.env"
	CertFileName = "agent.crt"
	KeyFileName  = "agent.key"
)

// InitOptions say where and how [Init] writes the agent's credentials.
type InitOptions struct {
	// Dir receives agent.env, agent.key and agent.crt (default /etc/fwgit).
	Dir string
	// Force replaces existing files; without it Init refuses to touch any.
	Force bool
	// Settings are written to the env file. Init replaces their APIKey,
	// TLSCert and TLSKey; the rest (ALLOWED_IPS, MGMT_CIDRS, …) is kept.
	Settings agentconfig.Config
	// SANs are added to the certificate besides the host's own names and
	// addresses.
	SANs []string
	// SkipHostSANs leaves out the host's names and addresses (for tests).
	SkipHostSANs bool
	// Now is the certificate's issue time (default time.Now()).
	Now time.Time
}

// InitResult tells what [Init] wrote.
type InitResult struct {
	EnvFile, CertFile, KeyFile string
	// Fingerprint is the certificate's pin, "sha256:<hex>".
	Fingerprint string
	// APIKey is the new key; it prints as "[redacted]" unless revealed.
	APIKey agentconfig.Secret
	// SANs are the names and addresses the certificate covers.
	SANs SANs
}

// ErrExists reports that [Init] found credentials and was not forced.
var ErrExists = errors.New("identity: credentials exist")

// ExistsError names the files that stopped [Init]; it matches [ErrExists].
type ExistsError struct{ Paths []string }

func (e *ExistsError) Error() string {
	return fmt.Sprintf("%s exist (use --force to replace them)", strings.Join(e.Paths, " and "))
}

// Is makes errors.Is(err, ErrExists) hold.
func (e *ExistsError) Is(target error) bool { return target == ErrExists }

// Init creates the agent's credentials: a fresh API key in an env file with
// mode 0600, an ECDSA P-256 key (0600) and a self-signed certificate (0644).
// It refuses, writing nothing, when the env file or the key exists and
// opts.Force is not set. Files are written atomically, so a crash leaves
// either the old file or the new one.
func Init(opts InitOptions) (*InitResult, error) {
	if opts.Dir == "" {
		opts.Dir = "/etc/fwgit"
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	res := &InitResult{
		EnvFile:  filepath.Join(opts.Dir, EnvFileName),
		CertFile: filepath.Join(opts.Dir, CertFileName),
		KeyFile:  filepath.Join(opts.Dir, KeyFileName),
	}
	if !opts.Force {
		var exist []string
		for _, p := range []string{res.EnvFile, res.KeyFile} {
			if _, err := os.Lstat(p); err == nil {
				exist = append(exist, p)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
		}
		if len(exist) > 0 {
			return nil, &ExistsError{Paths: exist}
		}
	}
	if !opts.SkipHostSANs {
		s, err := HostSANs()
		if err != nil {
			return nil, err
		}
		res.SANs = s
	}
	for _, n := range opts.SANs {
		res.SANs.Add(n)
	}
	key, err := GenerateKey()
	if err != nil {
		return nil, err
	}
	der, err := SelfSigned(key, res.SANs, opts.Now)
	if err != nil {
		return nil, err
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	apiKey, err := NewAPIKey()
	if err != nil {
		return nil, err
	}
	res.APIKey = agentconfig.Secret(apiKey)
	res.Fingerprint = Fingerprint(der)
	cfg := opts.Settings
	cfg.APIKey = res.APIKey
	cfg.TLSCert, cfg.TLSKey = res.CertFile, res.KeyFile

	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, err
	}
	// The key first and the env file last: a run of the agent that finds the
	// env file finds the credentials it names.
	if err := atomicfile.WriteFile(res.KeyFile, keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(res.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(res.EnvFile, cfg.EnvFile(), 0o600); err != nil {
		return nil, err
	}
	return res, nil
}
