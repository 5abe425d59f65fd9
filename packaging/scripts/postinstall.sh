#!/bin/sh
# fwgit-agent post-install (deb: "configure"; rpm: 1 on install, 2 on upgrade).
set -e
if [ ! -e /etc/fwgit/agent.env ]; then
	# First install: fresh API key, TLS key and certificate. The key stays in
	# /etc/fwgit/agent.env (mode 0600); the fingerprint is printed for the
	# Firewall manifest.
	/usr/bin/fwgit-agent init --dir /etc/fwgit
	echo "fwgit-agent: set ALLOWED_IPS in /etc/fwgit/agent.env, then: systemctl start fwgit-agent"
fi
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemctl daemon-reload || true
	systemctl enable fwgit-agent.service || true
	# Start (or restart on upgrade) only once the agent is configured; with an
	# empty ALLOWED_IPS it would refuse to start anyway.
	if grep -Eq '^ALLOWED_IPS=.+' /etc/fwgit/agent.env; then
		systemctl restart fwgit-agent.service || true
	fi
fi
exit 0
