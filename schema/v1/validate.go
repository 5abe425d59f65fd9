package v1

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameLen is the longest metadata.name (and tag name) accepted, in bytes,
// as for DNS names.
const MaxNameLen = 253

// ValidateName checks the metadata.name of a Firewall, Rule, Test or
// Settings: 1–[MaxNameLen] bytes of lower-case letters, digits, '-' and '.',
// starting and ending with a letter or digit, like a DNS name. Names appear in
// file names, URLs and nft comments, so they are kept plain.
func ValidateName(s string) error {
	switch {
	case s == "":
		return errors.New("name is empty")
	case len(s) > MaxNameLen:
		return fmt.Errorf("name is %d bytes long; the limit is %d", len(s), MaxNameLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isLowerAlnum(c) && c != '-' && c != '.' {
			return fmt.Errorf("name %q may hold only lower-case letters, digits, '-' and '.'", s)
		}
	}
	if !isLowerAlnum(s[0]) || !isLowerAlnum(s[len(s)-1]) {
		return fmt.Errorf("name %q must start and end with a lower-case letter or digit", s)
	}
	return nil
}

func isLowerAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }

// ValidateTagName checks a tag name, as the metadata.name of a Tag or a key
// of a Firewall's spec.tags. The rule language can quote any tag, so names
// are free text: 1–[MaxNameLen] bytes of valid UTF-8 without control
// characters or leading or trailing white space.
func ValidateTagName(s string) error {
	switch {
	case s == "":
		return errors.New("tag name is empty")
	case len(s) > MaxNameLen:
		return fmt.Errorf("tag name is %d bytes long; the limit is %d", len(s), MaxNameLen)
	case !utf8.ValidString(s):
		return errors.New("tag name is not valid UTF-8")
	case strings.TrimSpace(s) != s:
		return fmt.Errorf("tag name %q has leading or trailing white space", s)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("tag name %q holds a control character", s)
		}
	}
	return nil
}

// ParseAddress parses a host address as written in spec.addresses and test
// cases: a plain IPv4 or IPv6 address, without a zone or a prefix length.
// The unspecified, broadcast and multicast addresses are rejected, as are
// IPv4-mapped IPv6 addresses (write the IPv4 address instead), because none
// of them can name one host.
func ParseAddress(s string) (netip.Addr, error) {
	if strings.Contains(s, "/") {
		return netip.Addr{}, fmt.Errorf("address %q has a prefix length; write the address alone", s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q is not an IPv4 or IPv6 address", s)
	}
	switch {
	case a.Zone() != "":
		return netip.Addr{}, fmt.Errorf("address %q has a zone; zones are not allowed", s)
	case a.Is4In6():
		return netip.Addr{}, fmt.Errorf("address %q is IPv4-mapped; write %s", s, a.Unmap())
	case a.IsUnspecified():
		return netip.Addr{}, fmt.Errorf("address %q is the unspecified address", s)
	case a.IsMulticast():
		return netip.Addr{}, fmt.Errorf("address %q is a multicast address", s)
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return netip.Addr{}, fmt.Errorf("address %q is the broadcast address", s)
	}
	return a, nil
}

// ParseCIDR parses a CIDR as written in management and controllerAddresses:
// an IPv4 or IPv6 network address, '/' and a prefix length. Host bits must be
// zero (198.18.0.1/24 is an error: write 198.18.0.0/24 or 198.18.0.1/32), so
// that what is written is what is admitted.
func ParseCIDR(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		return netip.Prefix{}, fmt.Errorf("CIDR %q has no prefix length (for one host write %s/%d)", s, s, hostBits(s))
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a valid CIDR", s)
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, fmt.Errorf("CIDR %q is IPv4-mapped; write the IPv4 CIDR", s)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("CIDR %q has host bits set; write %s", s, m)
	}
	return p, nil
}

func hostBits(s string) int {
	if strings.Contains(s, ":") {
		return 128
	}
	return 32
}

// FingerprintPrefix starts every certificate fingerprint.
const FingerprintPrefix = "sha256:"

// NormalizeFingerprint checks an agent certificate fingerprint and returns
// it in canonical form, "sha256:" and 64 lower-case hex digits. It accepts
// hex digits in either case, also written as colon-separated pairs
// ("sha256:AB:CD:…"), as openssl prints them.
func NormalizeFingerprint(s string) (string, error) {
	h, ok := strings.CutPrefix(s, FingerprintPrefix)
	if !ok {
		return "", errors.New(`fingerprint must start with "sha256:"`)
	}
	if strings.Contains(h, ":") {
		parts := strings.Split(h, ":")
		for _, p := range parts {
			if len(p) != 2 {
				return "", errors.New("fingerprint: colon-separated digits must come in pairs")
			}
		}
		h = strings.Join(parts, "")
	}
	if len(h) != 64 {
		return "", fmt.Errorf("fingerprint has %d hex digits; a SHA-256 digest has 64", len(h))
	}
	if _, err := hex.DecodeString(h); err != nil {
		return "", errors.New("fingerprint holds a character that is not a hex digit")
	}
	return FingerprintPrefix + strings.ToLower(h), nil
}

// ValidateAgentURL checks spec.agent.url: an absolute https:// URL with a
// host and an optional port (1–65535), without credentials, query or
// fragment. Error messages never repeat the URL, which could hold a secret.
func ValidateAgentURL(s string) error {
	if !strings.HasPrefix(s, "https:") {
		return errors.New("agent URL must start with https://")
	}
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("agent URL does not parse")
	}
	switch {
	case u.Scheme != "https":
		return errors.New("agent URL must start with https://")
	case u.Opaque != "":
		return errors.New("agent URL must be of the form https://host[:port]")
	case u.User != nil:
		return errors.New("agent URL must not hold credentials")
	case u.Hostname() == "":
		return errors.New("agent URL has no host")
	case u.RawQuery != "" || u.ForceQuery:
		return errors.New("agent URL must not have a query")
	case u.Fragment != "":
		return errors.New("agent URL must not have a fragment")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return errors.New("agent URL port must be 1–65535")
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return errors.New("agent URL has an empty port")
	}
	return nil
}
