#!/bin/sh
# fwgit-agent pre-remove (deb: "remove" or "upgrade"; rpm: 0 on erase, 1 on
# upgrade). Stops the agent only when the package goes away. Its table stays
# in the kernel, and /etc/fwgit and /var/lib/fwgit-agent stay on disk.
set -e
case "$1" in
remove | purge | 0)
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
		systemctl disable --now fwgit-agent.service || true
	fi
	;;
esac
exit 0
