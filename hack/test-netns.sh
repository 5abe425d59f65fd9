#!/usr/bin/env bash
# Runs only the real-kernel tests (build tag netns). They need CAP_NET_ADMIN:
# as root they run directly, otherwise through sudo.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=$(go list -tags netns -f '{{if .TestGoFiles}}{{.ImportPath}}{{end}}' ./... )
run=(go test -race -tags netns -run 'Netns|Kernel' -count=1 $pkgs)
if [ "$(id -u)" = 0 ]; then exec "${run[@]}"; fi
exec sudo -E env PATH="$PATH" "${run[@]}"
