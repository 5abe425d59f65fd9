package agentconfig

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/fwgit/fwgit/internal/agentapi"
	"github.com/fwgit/fwgit/internal/nft"
)

// DefaultEnvFile is where the agent's settings live unless --env-file says
// otherwise; `fwgit-agent init` writes it.
const DefaultEnvFile = "/etc/fwgit/agent.env"

// MinAPIKeyLen is the shortest API key the agent accepts, in characters.
// `fwgit-agent init` writes 43 (32 random bytes, base64url).
const MinAPIKeyLen = 32

// DriftMode says what the agent does when the kernel's table no longer
// matches the ruleset it applied.
type DriftMode string

// The drift modes.
const (
	// DriftRepair re-applies the last good ruleset (the default).
	DriftRepair DriftMode = "repair"
	// DriftReport only records the drift in /state and the log.
	DriftReport DriftMode = "report"
)

// Config holds every setting of fwgit-agent. The zero value is not usable:
// start from [Default], which holds the documented defaults, then [Load] or
// [Config.Set], then [Config.Validate].
type Config struct {
	// Listen is the HTTPS address, host:port (LISTEN, default ":33033").
	Listen string
	// APIKey is the shared secret every request carries in X-API-Key
	// (API_KEY, no default, at least [MinAPIKeyLen] characters).
	APIKey Secret
	// AllowedIPs are the only client addresses the API answers (ALLOWED_IPS,
	// comma-separated addresses and CIDRs, no default: it must be set). The
	// agent also admits them to its port in the failsafe rules.
	AllowedIPs []netip.Prefix
	// TLSCert and TLSKey are PEM files (TLS_CERT, TLS_KEY; defaults
	// /etc/fwgit/agent.crt and /etc/fwgit/agent.key, as `init` writes them).
	TLSCert, TLSKey string
	// StateDir holds the persisted rulesets (STATE_DIR, default
	// /var/lib/fwgit-agent).
	StateDir string
	// MgmtCIDRs always keep SSH (tcp/22) access, whatever the controller
	// sends (MGMT_CIDRS, comma-separated; default none).
	MgmtCIDRs []netip.Prefix
	// DriftMode is repair or report (DRIFT_MODE, default repair).
	DriftMode DriftMode
	// DriftInterval is how often the kernel is compared with the applied
	// ruleset (DRIFT_INTERVAL, a Go duration, default 30s; 0 turns the check
	// off).
	DriftInterval time.Duration
	// Table is the nftables table of the inet family the agent owns (TABLE,
	// default "fwgit").
	Table string
	// LogFormat is json or text (LOG_FORMAT, default json).
	LogFormat string
	// LogLevel is debug, info, warn or error (LOG_LEVEL, default info).
	LogLevel slog.Level
}

// Default returns the documented defaults. It has no API key and no
// ALLOWED_IPS, so it does not validate until those are set.
func Default() Config {
	return Config{
		Listen:        fmt.Sprintf(":%d", agentapi.DefaultPort),
		TLSCert:       "/etc/fwgit/agent.crt",
		TLSKey:        "/etc/fwgit/agent.key",
		StateDir:      "/var/lib/fwgit-agent",
		DriftMode:     DriftRepair,
		DriftInterval: 30 * time.Second,
		Table:         nft.DefaultTable,
		LogFormat:     "json",
		LogLevel:      slog.LevelInfo,
	}
}

// Key describes one setting: its env-file name, its flag and its help text.
type Key struct {
	// Name is the env-file and environment variable name, e.g. "LISTEN".
	Name string
	// Flag is the command-line flag, e.g. "listen".
	Flag string
	// Usage is the flag's help text.
	Usage string
}

// Keys lists every setting in the order the example env file documents them.
// cmd/fwgit-agent registers one flag per key.
func Keys() []Key {
	return []Key{
		{"LISTEN", "listen", "HTTPS listen address, host:port"},
		{"API_KEY", "api-key", "API key (prefer the env file: flags show in ps)"},
		{"ALLOWED_IPS", "allowed-ips", "comma-separated addresses and CIDRs allowed to call the API"},
		{"TLS_CERT", "tls-cert", "TLS certificate (PEM)"},
		{"TLS_KEY", "tls-key", "TLS private key (PEM)"},
		{"STATE_DIR", "state-dir", "directory for the persisted rulesets"},
		{"MGMT_CIDRS", "mgmt-cidrs", "comma-separated CIDRs that always keep SSH access"},
		{"DRIFT_MODE", "drift-mode", "what to do on drift: repair or report"},
		{"DRIFT_INTERVAL", "drift-interval", "how often to check for drift (0 turns it off)"},
		{"TABLE", "table", "the inet table the agent owns"},
		{"LOG_FORMAT", "log-format", "json or text"},
		{"LOG_LEVEL", "log-level", "debug, info, warn or error"},
	}
}

// ErrUnknownKey reports a setting name the agent does not know.
var ErrUnknownKey = errors.New("agentconfig: unknown setting")

// Set parses value into the setting named key (an env-file name such as
// "ALLOWED_IPS"). The error names the key but never echoes a secret.
func (c *Config) Set(key, value string) error {
	value = strings.TrimSpace(value)
	var err error
	switch key {
	case "LISTEN":
		c.Listen = value
	case "API_KEY":
		c.APIKey = Secret(value)
	case "ALLOWED_IPS":
		c.AllowedIPs, err = ParsePrefixes(value)
	case "TLS_CERT":
		c.TLSCert = value
	case "TLS_KEY":
		c.TLSKey = value
	case "STATE_DIR":
		c.StateDir = value
	case "MGMT_CIDRS":
		c.MgmtCIDRs, err = ParsePrefixes(value)
	case "DRIFT_MODE":
		c.DriftMode = DriftMode(strings.ToLower(value))
	case "DRIFT_INTERVAL":
		if value == "0" || value == "" {
			c.DriftInterval = 0
		} else {
			c.DriftInterval, err = time.ParseDuration(value)
		}
	case "TABLE":
		c.Table = value
	case "LOG_FORMAT":
		c.LogFormat = strings.ToLower(value)
	case "LOG_LEVEL":
		err = c.LogLevel.UnmarshalText([]byte(value))
		if err != nil {
			err = fmt.Errorf("unknown level %q (want debug, info, warn or error)", value)
		}
	default:
		return fmt.Errorf("%w %s", ErrUnknownKey, key)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// ParsePrefixes parses a list of IPv4 and IPv6 addresses and CIDRs separated
// by commas or white space. An address stands for its host prefix (/32 or
// /128); IPv4-mapped IPv6 addresses become IPv4. A CIDR with host bits set is
// an error, so that a typo cannot silently widen the list.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		var p netip.Prefix
		if strings.Contains(f, "/") {
			var err error
			p, err = netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not an address or CIDR", f)
			}
			if p.Addr().Zone() != "" {
				return nil, fmt.Errorf("%q: zones are not allowed", f)
			}
			if p.Masked() != p {
				return nil, fmt.Errorf("%q has host bits set (did you mean %s?)", f, p.Masked())
			}
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
		} else {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not an address or CIDR", f)
			}
			if a.Zone() != "" {
				return nil, fmt.Errorf("%q: zones are not allowed", f)
			}
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p)
	}
	return out, nil
}

var tableName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)

// Validate reports every problem with the settings at once, each naming its
// setting. It does no I/O: whether the TLS files exist is checked when the
// agent starts.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if _, err := c.Port(); err != nil {
		bad("LISTEN", "%v", err)
	}
	switch n := len(c.APIKey); {
	case n == 0:
		bad("API_KEY", "not set (run `fwgit-agent init` to generate one)")
	case n < MinAPIKeyLen:
		bad("API_KEY", "too short (%d characters, need at least %d)", n, MinAPIKeyLen)
	case strings.ContainsAny(string(c.APIKey), " \t\r\n"):
		bad("API_KEY", "contains white space")
	}
	if len(c.AllowedIPs) == 0 {
		bad("ALLOWED_IPS", "empty: list the controller's addresses (0.0.0.0/0,::/0 allows every address)")
	}
	if c.TLSCert == "" {
		bad("TLS_CERT", "not set")
	}
	if c.TLSKey == "" {
		bad("TLS_KEY", "not set")
	}
	if c.StateDir == "" {
		bad("STATE_DIR", "not set")
	}
	switch c.DriftMode {
	case DriftRepair, DriftReport:
	default:
		bad("DRIFT_MODE", "%q is not repair or report", c.DriftMode)
	}
	if c.DriftInterval < 0 || (c.DriftInterval > 0 && c.DriftInterval < time.Second) {
		bad("DRIFT_INTERVAL", "%s is below 1s (use 0 to turn the check off)", c.DriftInterval)
	}
	if !tableName.MatchString(c.Table) {
		bad("TABLE", "%q is not a valid table name (a letter, then letters, digits or _)", c.Table)
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		bad("LOG_FORMAT", "%q is not json or text", c.LogFormat)
	}
	return errors.Join(errs...)
}

// Port returns the TCP port of [Config.Listen].
func (c *Config) Port() (uint16, error) {
	_, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return 0, fmt.Errorf("%q is not host:port", c.Listen)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q has no valid port", c.Listen)
	}
	return uint16(n), nil
}

// LogValue logs the settings with the API key redacted.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("listen", c.Listen),
		slog.Any("api_key", c.APIKey),
		slog.String("allowed_ips", joinPrefixes(c.AllowedIPs)),
		slog.String("tls_cert", c.TLSCert),
		slog.String("state_dir", c.StateDir),
		slog.String("mgmt_cidrs", joinPrefixes(c.MgmtCIDRs)),
		slog.String("drift_mode", string(c.DriftMode)),
		slog.Duration("drift_interval", c.DriftInterval),
		slog.String("table", c.Table),
	)
}

func joinPrefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// Secret is a string that never shows itself in logs, errors or %v. Use
// [Secret.Reveal] where the value itself is needed.
type Secret string

const redacted = "[redacted]"

// String returns a placeholder, so fmt never prints the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString returns a placeholder for %#v.
func (s Secret) GoString() string { return s.String() }

// LogValue returns a placeholder for log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText returns a placeholder, so a Secret never leaks through JSON.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return string(s) }

// EnvFile renders c as a documented env file that [ParseEnv] and [Load] read
// back to the same settings. It is the one place that writes the API key in
// clear, for `fwgit-agent init`; the caller writes it with mode 0600.
func (c Config) EnvFile() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# fwgit-agent settings (read by `fwgit-agent run`; flags override them).\n")
	fmt.Fprintf(&b, "# This file holds the API key: keep it mode 0600, owned by root.\n\n")
	fmt.Fprintf(&b, "# HTTPS listen address, host:port.\nLISTEN=%s\n\n", c.Listen)
	fmt.Fprintf(&b, "# The key the controller sends in X-API-Key (at least %d characters).\nAPI_KEY=%s\n\n", MinAPIKeyLen, c.APIKey.Reveal())
	fmt.Fprintf(&b, "# Addresses and CIDRs allowed to call the API, comma-separated (IPv4 and IPv6);\n# the agent refuses to start while this is empty. 0.0.0.0/0,::/0 allows everyone.\nALLOWED_IPS=%s\n\n", joinPrefixes(c.AllowedIPs))
	fmt.Fprintf(&b, "# TLS certificate and key (PEM); `fwgit-agent fingerprint` prints the pin.\nTLS_CERT=%s\nTLS_KEY=%s\n\n", c.TLSCert, c.TLSKey)
	fmt.Fprintf(&b, "# Where the applied and previous rulesets are kept.\nSTATE_DIR=%s\n\n", c.StateDir)
	fmt.Fprintf(&b, "# CIDRs that always keep SSH (tcp/22), whatever the controller sends.\nMGMT_CIDRS=%s\n\n", joinPrefixes(c.MgmtCIDRs))
	fmt.Fprintf(&b, "# On drift (someone changed our table): repair or report.\nDRIFT_MODE=%s\n# How often to check, as a Go duration; 0 turns the check off.\nDRIFT_INTERVAL=%s\n\n", c.DriftMode, c.DriftInterval)
	fmt.Fprintf(&b, "# The table of the inet family the agent owns; it touches nothing else.\nTABLE=%s\n\n", c.Table)
	fmt.Fprintf(&b, "# Logging: json or text; debug, info, warn or error.\nLOG_FORMAT=%s\nLOG_LEVEL=%s\n", c.LogFormat, strings.ToLower(c.LogLevel.String()))
	return []byte(b.String())
}
