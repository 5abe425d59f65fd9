package v1

import (
	"crypto/sha1"
	"encoding/hex"
)

// Namespace is the fixed namespace UUID in which [DeriveUUID] derives the
// UUIDs of objects that do not state one. It never changes: changing it would
// change the UUID of every such rule and firewall, and so the FWAPI view of the
// repository.
const Namespace = "7be24004-422b-49a4-96e8-69bd1fc38378"

var namespaceBytes = mustUUIDBytes(Namespace)

// DeriveUUID returns the UUID of an object of the given kind and name that has
// no metadata.uuid: a version 5 (SHA-1, RFC 9562 §5.5) UUID in [Namespace] of
// the name "<kind>/<name>", for example "Firewall/web-1". The result is lower
// case and stable across releases, so renaming an object changes its UUID and
// nothing else does.
func DeriveUUID(kind, name string) string {
	return uuidV5(namespaceBytes, kind+"/"+name)
}

// uuidV5 computes a name-based UUID with SHA-1 as RFC 9562 §5.5 describes:
// the hash of namespace||name, truncated to 16 bytes, with the version and
// variant bits set.
func uuidV5(ns [16]byte, name string) string {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var sum [sha1.Size]byte
	h.Sum(sum[:0])
	var u [16]byte
	copy(u[:], sum[:16])
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	return formatUUID(u)
}

func formatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:36], u[10:16])
	return string(b[:])
}

// mustUUIDBytes parses a constant UUID; it is only called on package
// constants, so a bad one is a programming error that the tests catch (the
// result is then all zeros).
func mustUUIDBytes(s string) [16]byte {
	var u [16]byte
	if IsUUID(s) {
		hex.Decode(u[:], []byte(s[0:8]+s[9:13]+s[14:18]+s[19:23]+s[24:36]))
	}
	return u
}

// IsUUID reports whether s is a UUID written in lower case as
// 8-4-4-4-12 hexadecimal digits, the form FWAPI accepts for owner and
// object UUIDs. Version and variant digits are not checked, as upstream
// does not check them either.
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// UUIDFor returns the object's UUID: metadata.uuid when set, otherwise
// [DeriveUUID] of kind and name.
func (m ObjectMeta) UUIDFor(kind string) string {
	if m.UUID != "" {
		return m.UUID
	}
	return DeriveUUID(kind, m.Name)
}
