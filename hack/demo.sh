#!/usr/bin/env bash
# make demo:      build the binaries, then run the whole system on
#                 examples/repo in network namespaces (hack/demo) and leave
#                 it running.
# make demo-down: take it down (processes, namespaces, host link, files).
# Both need root. DEMO_DIR overrides the lab's directory.
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
DEMO_DIR=${DEMO_DIR:-${TMPDIR:-/tmp}/fwgit-demo}

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: run as root (sudo make ${1:-demo}): the lab is made of network namespaces and nftables tables" >&2
	exit 2
fi

demo_bin() {
	mkdir -p bin
	"$GO" build -o bin/fwgit-demo ./hack/demo
}

case "${1:-up}" in
up)
	for tool in ip nft git; do
		command -v "$tool" >/dev/null || { echo "demo: needs $tool (apt-get install iproute2 nftables git)" >&2; exit 2; }
	done
	echo "Building bin/fwgit, bin/fwgit-agent and the demo driver…"
	make -s build
	demo_bin
	exec bin/fwgit-demo up -bin bin -dir "$DEMO_DIR" -policy examples/repo
	;;
down)
	[ -x bin/fwgit-demo ] || demo_bin
	exec bin/fwgit-demo down -dir "$DEMO_DIR"
	;;
*)
	echo "usage: hack/demo.sh [up|down]" >&2
	exit 2
	;;
esac
