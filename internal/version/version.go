package version

import "runtime/debug"

// Version is the release version; "dev" for builds without -ldflags.
var Version = "dev"

// String returns Version, or the module version or VCS revision recorded by
// the Go toolchain when Version was not stamped.
func String() string {
	if Version != "dev" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return Version
}
