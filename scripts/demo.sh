#!/usr/bin/env bash
# make demo: dirbridge's main job on one machine. Installs OpenLDAP if it is
# missing, then runs internal/demo: a private slapd on loopback with a small
# organisation, `dirbridge serve` on SQLite importing two groups, a sync
# through the API, and what was imported. Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"

if ! command -v slapd >/dev/null 2>&1 || ! command -v ldapsearch >/dev/null 2>&1; then
	SUDO=""
	if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
	# Installing slapd must not start a system slapd or make a system
	# database: the demo runs its own on loopback.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
		$SUDO chmod 755 /usr/sbin/policy-rc.d
	fi
	echo "slapd slapd/no_configuration boolean true" | $SUDO debconf-set-selections
	echo "demo: installing slapd ldap-utils"
	$SUDO apt-get update -qq
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slapd ldap-utils
fi

mkdir -p bin
[ -x bin/dirbridge ] && [ -z "$(find cmd internal sync store admin sso mapping config expiry privilege console scim -name '*.go' -newer bin/dirbridge -print -quit 2>/dev/null)" ] ||
	CGO_ENABLED=0 ${GO:-go} build -trimpath -o bin/dirbridge ./cmd/dirbridge
${GO:-go} build -o bin/dirbridge-demo ./internal/demo
exec bin/dirbridge-demo --bin bin/dirbridge "$@"
