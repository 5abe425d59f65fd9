package v1

import (
	"testing"

	"github.com/google/uuid"
)

func TestUUIDV5MatchesRFC(t *testing.T) {
	// RFC 9562 appendix A.4: the DNS namespace and "www.example.com".
	dns := mustUUIDBytes("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
	if got, want := uuidV5(dns, "www.example.com"), "2ed6657d-e927-568b-95e1-2665a8aea6a2"; got != want {
		t.Errorf("uuidV5(DNS, www.example.com) = %s, want %s", got, want)
	}
}

func TestDeriveUUID(t *testing.T) {
	ns := uuid.MustParse(Namespace)
	tests := []struct {
		kind, name string
		// want pins the value: derived UUIDs are part of the public
		// contract (FWAPI clients see them), so they must never change.
		// The values were computed with Python's uuid.uuid5.
		want string
	}{
		{KindFirewall, "web-1", "ab854499-e5dd-5ec9-94ca-9ab56405b331"},
		{KindRule, "web-to-db", "33bf1cdd-796b-5eba-8b51-ea352dc54189"},
		{KindFirewall, "é", "b7b37d55-791b-54d0-8c02-b47690d371df"},
	}
	for _, tc := range tests {
		t.Run(tc.kind+"/"+tc.name, func(t *testing.T) {
			got := DeriveUUID(tc.kind, tc.name)
			if got != tc.want {
				t.Errorf("DeriveUUID(%q, %q) = %s, want %s", tc.kind, tc.name, got, tc.want)
			}
			if ref := uuid.NewSHA1(ns, []byte(tc.kind+"/"+tc.name)).String(); got != ref {
				t.Errorf("DeriveUUID(%q, %q) = %s, google/uuid says %s", tc.kind, tc.name, got, ref)
			}
			if !IsUUID(got) {
				t.Errorf("DeriveUUID(%q, %q) = %s, not a lower-case UUID", tc.kind, tc.name, got)
			}
		})
	}
	if DeriveUUID(KindFirewall, "x") == DeriveUUID(KindRule, "x") {
		t.Error("a Firewall and a Rule of the same name derive the same UUID")
	}
}

func TestUUIDFor(t *testing.T) {
	const set = "0f9b7c8e-1d2a-4b3c-8d4e-5f6a7b8c9d0e"
	if got := (ObjectMeta{Name: "a", UUID: set}).UUIDFor(KindRule); got != set {
		t.Errorf("UUIDFor with metadata.uuid = %s, want %s", got, set)
	}
	if got, want := (ObjectMeta{Name: "a"}).UUIDFor(KindRule), DeriveUUID(KindRule, "a"); got != want {
		t.Errorf("UUIDFor without metadata.uuid = %s, want %s", got, want)
	}
}

func TestIsUUID(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"f3a9a535-0975-423a-a9af-18c4ce0b6587", true},
		{"ca3eb1d6-1555-44fb-ea1a-000000000000", true}, // variant not checked, as upstream
		{"F3A9A535-0975-423A-A9AF-18C4CE0B6587", false},
		{"f3a9a535-0975-423a-a9af-18c4ce0b658", false},
		{"f3a9a535_0975-423a-a9af-18c4ce0b6587", false},
		{"f3a9a5350975423aa9af18c4ce0b6587", false},
		{"g3a9a535-0975-423a-a9af-18c4ce0b6587", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := IsUUID(tc.in); got != tc.want {
			t.Errorf("IsUUID(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
