// Package packaging holds no code: it is the directory of the fwgit-agent
// systemd unit, the example env file, the nfpm configuration and the package
// scripts that `make package` turns into a .deb and an .rpm. Its tests lint
// those files (systemd-analyze verify where it exists, the env file through
// the agent's own parser); nothing here is imported by either binary.
package packaging
