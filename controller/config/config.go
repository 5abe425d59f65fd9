package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// Duration is a time.Duration written in YAML as a Go duration string
// ("30s", "1m30s") or as a number of seconds.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes the duration as a string such as "30s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("invalid duration %q", s)
		}
		*d = Duration(v)
		return nil
	}
	var n float64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("invalid duration %s: want a string such as \"30s\"", b)
	}
	*d = Duration(n * float64(time.Second))
	return nil
}

// Secret is a credential read from a file. It never prints itself: String,
// GoString and LogValue all redact it. Use [Secret.Reveal] at the one place
// the value is needed.
type Secret struct{ v string }

// NewSecret wraps s.
func NewSecret(s string) Secret { return Secret{v: s} }

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.v == "" }

// String redacts the secret.
func (s Secret) String() string {
	if s.v == "" {
		return ""
	}
	return "REDACTED"
}

// GoString redacts the secret for %#v.
func (s Secret) GoString() string { return "config.Secret{REDACTED}" }

// LogValue redacts the secret in slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON redacts the secret, so a config dumped as JSON holds none.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// ReadSecret reads a secret from a file, trimming surrounding white space.
// The error names the file, never its content.
func ReadSecret(path string) (Secret, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Secret{}, fmt.Errorf("reading secret: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return Secret{}, fmt.Errorf("reading secret %s: file is empty", path)
	}
	return Secret{v: s}, nil
}

// Drift modes.
const (
	// DriftRepair re-applies the desired ruleset when an agent reports drift.
	DriftRepair = "repair"
	// DriftReport only records drift in status.
	DriftReport = "report"
)

// Config is the controller's configuration. The zero value is not usable;
// start from [Default] (as [Load] does) and call [Config.Validate].
type Config struct {
	// Git is the policy repository; exactly one of Git and Dir is set.
	Git *Git `json:"git,omitempty"`
	// Dir is a local directory holding the policy (development): watched
	// with fsnotify instead of fetched.
	Dir string `json:"dir,omitempty"`
	// PollInterval is how often the Git remote is checked (default 30s).
	PollInterval Duration `json:"pollInterval,omitempty"`
	// FetchTimeout bounds every Git fetch (default 60s).
	FetchTimeout Duration `json:"fetchTimeout,omitempty"`
	// WebhookSecretFile holds the shared secret of POST /hooks/git. Without
	// it the webhook is disabled (every call answers 401).
	WebhookSecretFile string `json:"webhookSecretFile,omitempty"`
	// Listen holds the listen addresses.
	Listen Listen `json:"listen,omitempty"`
	// StateDir holds the Git clone and the status database.
	StateDir string `json:"stateDir"`
	// Agents holds the credentials used to reach push-mode agents.
	Agents Agents `json:"agents,omitempty"`
	// ConfirmTimeout arms the agents' commit-confirm: an agent rolls back
	// unless the controller confirms over a new connection within it.
	// Default 30s; 0 disables commit-confirm.
	ConfirmTimeout Duration `json:"confirmTimeout"`
	// AgentTimeout bounds every request to an agent (default 10s).
	AgentTimeout Duration `json:"agentTimeout,omitempty"`
	// ResyncInterval is how often every firewall is reconciled even when
	// nothing changed, to find drift (default 5m).
	ResyncInterval Duration `json:"resyncInterval,omitempty"`
	// ReadTokenFile, when set, holds a bearer token required on every API
	// path except /healthz, /readyz and /hooks/git.
	ReadTokenFile string `json:"readTokenFile,omitempty"`
	// DriftMode is "repair" (default) or "report".
	DriftMode string `json:"driftMode,omitempty"`
	// Concurrency is the number of firewalls reconciled at once (default 16).
	Concurrency int `json:"concurrency,omitempty"`
	// Backoff bounds the per-firewall retry delay after transient errors.
	Backoff Backoff `json:"backoff,omitempty"`
	// RepoWebURL is a template for links to a file in the repository's web
	// view, with {revision}, {commit}, {path} and {line} placeholders, e.g.
	// "https://git.example.com/net/policy/blob/{commit}/{path}#L{line}".
	RepoWebURL string `json:"repoWebURL,omitempty"`
	// Pull configures pull mode and enrollment on the agent-facing
	// listener (Listen.Agents).
	Pull Pull `json:"pull,omitempty"`
}

// Pull configures the agent-facing listener for pull-mode agents. Every
// field is optional.
type Pull struct {
	// URL is the https:// base URL agents dial, written into enrollment
	// tokens (default https:// and Listen.Agents, which then needs a host
	// other than 0.0.0.0 or ::).
	URL string `json:"url,omitempty"`
	// Names are extra DNS names and addresses for the listener's server
	// certificate; the URL's host is always in it.
	Names []string `json:"names,omitempty"`
	// Wait is the longest long-poll of GET /api/v1/agents/{name}/desired
	// (default 30s).
	Wait Duration `json:"wait,omitempty"`
	// CertificateLifetime is the validity of agents' client certificates
	// (default 2160h, 90 days); agents renew them when two thirds have
	// passed.
	CertificateLifetime Duration `json:"certificateLifetime,omitempty"`
}

// ErrNoAgentURL reports that no agent-facing URL is configured or can be
// derived from Listen.Agents.
var ErrNoAgentURL = errors.New("config: no agent-facing URL: set pull.url (or listen.agents with a specific host)")

// AgentURL returns the agent-facing base URL: Pull.URL, else https:// and
// Listen.Agents when its host is specific.
func (c *Config) AgentURL() (string, error) {
	if c.Pull.URL != "" {
		return strings.TrimSuffix(c.Pull.URL, "/"), nil
	}
	host, _, err := net.SplitHostPort(c.Listen.Agents)
	if err != nil || host == "" {
		return "", ErrNoAgentURL
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return "", ErrNoAgentURL
	}
	return "https://" + c.Listen.Agents, nil
}

// Git names a branch of a remote repository.
type Git struct {
	// URL is the remote (https://, http://, ssh:// or file://).
	URL string `json:"url"`
	// Branch defaults to "main".
	Branch string `json:"branch,omitempty"`
	// Path is the directory inside the repository holding the policy
	// (default: the root).
	Path string `json:"path,omitempty"`
	// KeyringFile, when set, is an armored OpenPGP public key ring: only
	// head commits signed by one of its keys are accepted.
	KeyringFile string `json:"keyringFile,omitempty"`
	// UsernameFile and PasswordFile hold HTTP basic credentials for the
	// remote (a password may be an access token).
	UsernameFile string `json:"usernameFile,omitempty"`
	PasswordFile string `json:"passwordFile,omitempty"`
}

// Listen holds listen addresses.
type Listen struct {
	// API serves /v1, the read API, /metrics, health and the webhook
	// (default 127.0.0.1:8080).
	API string `json:"api,omitempty"`
	// Agents is the agent-facing listener for pull-mode agents and
	// enrollment; empty disables it.
	Agents string `json:"agents,omitempty"`
}

// Agents holds per-firewall agent credentials. A firewall uses its entry in
// Firewalls, field by field falling back to Default.
type Agents struct {
	Default   Credentials            `json:"default,omitempty"`
	Firewalls map[string]Credentials `json:"firewalls,omitempty"`
}

// Credentials say how to authenticate to one agent and how to trust it.
type Credentials struct {
	// APIKeyFile holds the agent's X-API-Key (kept outside the policy
	// repository).
	APIKeyFile string `json:"apiKeyFile,omitempty"`
	// CAFile is a PEM bundle that signs the agent's certificate; used when
	// no fingerprint pins it.
	CAFile string `json:"caFile,omitempty"`
	// Fingerprint ("sha256:" and 64 hex digits) overrides the Firewall
	// manifest's pin.
	Fingerprint string `json:"fingerprint,omitempty"`
}

// Backoff bounds exponential retry delays.
type Backoff struct {
	Min Duration `json:"min,omitempty"`
	Max Duration `json:"max,omitempty"`
}

// Default returns the configuration with every default filled in. StateDir
// and the source have no default.
func Default() Config {
	return Config{
		PollInterval:   Duration(30 * time.Second),
		FetchTimeout:   Duration(60 * time.Second),
		Listen:         Listen{API: "127.0.0.1:8080"},
		ConfirmTimeout: Duration(30 * time.Second),
		AgentTimeout:   Duration(10 * time.Second),
		ResyncInterval: Duration(5 * time.Minute),
		DriftMode:      DriftRepair,
		Concurrency:    16,
		Backoff:        Backoff{Min: Duration(750 * time.Millisecond), Max: Duration(15 * time.Minute)},
	}
}

// Load reads a YAML configuration file over [Default]. Unknown fields are
// errors. It does not validate; call [Config.Validate].
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("reading config: %w", err)
	}
	cfg, err := Parse(b)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes YAML over [Default].
func Parse(b []byte) (Config, error) {
	cfg := Default()
	if len(bytes.TrimSpace(b)) == 0 {
		return cfg, nil
	}
	if err := yaml.UnmarshalStrict(b, &cfg); err != nil {
		return Config{}, fmt.Errorf("decoding config: %w", err)
	}
	return cfg, nil
}

// FieldError is a problem with one configuration field.
type FieldError struct {
	// Field is the YAML path, e.g. "git.url" or "agents.firewalls.db-1.caFile".
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

var fingerprintRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// ValidFingerprint reports whether s is "sha256:" and 64 lower-case hex
// digits.
func ValidFingerprint(s string) bool { return fingerprintRE.MatchString(s) }

// Validate checks the configuration and returns every problem found, joined
// (each a [*FieldError]). It checks that files named for secrets exist but
// does not read them.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	file := func(field, path string) {
		if path == "" {
			return
		}
		fi, err := os.Stat(path)
		switch {
		case err != nil:
			bad(field, "%v", errors.Unwrap(err))
		case fi.IsDir():
			bad(field, "%s is a directory", path)
		}
	}
	switch {
	case c.Git == nil && c.Dir == "":
		bad("git", "one of git and dir is required")
	case c.Git != nil && c.Dir != "":
		bad("dir", "git and dir are mutually exclusive")
	case c.Git != nil:
		if c.Git.URL == "" {
			bad("git.url", "required")
		} else if u, err := url.Parse(c.Git.URL); err != nil || (u.Scheme == "" && !strings.Contains(c.Git.URL, "@")) {
			bad("git.url", "not a URL (want https://, ssh:// or file://)")
		} else if u.User != nil {
			if _, hasPW := u.User.Password(); hasPW {
				bad("git.url", "must not hold a password; use git.passwordFile")
			}
		}
		if strings.HasPrefix(c.Git.Path, "/") || strings.Contains(c.Git.Path, "..") {
			bad("git.path", "must be a relative path inside the repository")
		}
		file("git.keyringFile", c.Git.KeyringFile)
		file("git.usernameFile", c.Git.UsernameFile)
		file("git.passwordFile", c.Git.PasswordFile)
		if (c.Git.UsernameFile == "") != (c.Git.PasswordFile == "") {
			bad("git.passwordFile", "git.usernameFile and git.passwordFile go together")
		}
	default:
		if fi, err := os.Stat(c.Dir); err != nil {
			bad("dir", "%v", errors.Unwrap(err))
		} else if !fi.IsDir() {
			bad("dir", "%s is not a directory", c.Dir)
		}
	}
	if c.StateDir == "" {
		bad("stateDir", "required")
	}
	if c.PollInterval.D() < time.Second {
		bad("pollInterval", "must be at least 1s")
	}
	if c.FetchTimeout.D() <= 0 {
		bad("fetchTimeout", "must be positive")
	}
	if c.ConfirmTimeout.D() < 0 {
		bad("confirmTimeout", "must not be negative (0 disables commit-confirm)")
	} else if c.ConfirmTimeout.D() > 0 && c.ConfirmTimeout.D() < time.Second {
		bad("confirmTimeout", "must be 0 or at least 1s")
	}
	if c.AgentTimeout.D() <= 0 {
		bad("agentTimeout", "must be positive")
	}
	if c.ResyncInterval.D() < time.Second {
		bad("resyncInterval", "must be at least 1s")
	}
	if c.DriftMode != DriftRepair && c.DriftMode != DriftReport {
		bad("driftMode", "must be %q or %q, not %q", DriftRepair, DriftReport, c.DriftMode)
	}
	if c.Concurrency < 1 || c.Concurrency > 1024 {
		bad("concurrency", "must be between 1 and 1024")
	}
	if c.Backoff.Min.D() <= 0 {
		bad("backoff.min", "must be positive")
	}
	if c.Backoff.Max.D() < c.Backoff.Min.D() {
		bad("backoff.max", "must not be less than backoff.min")
	}
	for _, l := range []struct{ field, addr string }{{"listen.api", c.Listen.API}, {"listen.agents", c.Listen.Agents}} {
		if l.addr == "" {
			if l.field == "listen.api" {
				bad(l.field, "required")
			}
			continue
		}
		if _, _, err := net.SplitHostPort(l.addr); err != nil {
			bad(l.field, "not host:port: %q", l.addr)
		}
	}
	file("webhookSecretFile", c.WebhookSecretFile)
	file("readTokenFile", c.ReadTokenFile)
	creds := func(field string, cr Credentials) {
		file(field+".apiKeyFile", cr.APIKeyFile)
		file(field+".caFile", cr.CAFile)
		if cr.Fingerprint != "" && !ValidFingerprint(cr.Fingerprint) {
			bad(field+".fingerprint", "want sha256: and 64 lower-case hex digits")
		}
	}
	creds("agents.default", c.Agents.Default)
	for name, cr := range c.Agents.Firewalls {
		creds("agents.firewalls."+name, cr)
	}
	if c.Pull.URL != "" {
		if u, err := url.Parse(c.Pull.URL); err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") {
			bad("pull.url", "want https://host[:port] without a path")
		}
	}
	if c.Pull.Wait.D() < 0 || c.Pull.Wait.D() > 10*time.Minute {
		bad("pull.wait", "must be between 0 (default 30s) and 10m")
	}
	if c.Pull.CertificateLifetime.D() < 0 || (c.Pull.CertificateLifetime.D() > 0 && c.Pull.CertificateLifetime.D() < time.Hour) {
		bad("pull.certificateLifetime", "must be 0 (default 90 days) or at least 1h")
	}
	if c.RepoWebURL != "" && !strings.Contains(c.RepoWebURL, "{path}") {
		bad("repoWebURL", "must contain {path}")
	}
	return errors.Join(errs...)
}

// CredentialsFor returns the credentials of firewall name: its own entry,
// each empty field taken from the default.
func (c *Config) CredentialsFor(name string) Credentials {
	cr := c.Agents.Default
	if o, ok := c.Agents.Firewalls[name]; ok {
		if o.APIKeyFile != "" {
			cr.APIKeyFile = o.APIKeyFile
		}
		if o.CAFile != "" {
			cr.CAFile = o.CAFile
		}
		if o.Fingerprint != "" {
			cr.Fingerprint = o.Fingerprint
		}
	}
	return cr
}
