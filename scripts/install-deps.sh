#!/usr/bin/env bash
# Installs the real servers dirbridge's tests run against (Debian packages)
# and the oidc-provider test IdP (npm). Idempotent: does nothing when all is
# present. Needs root (or sudo) the first time.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(slapd ldap-utils samba-ad-dc samba samba-ad-provision krb5-user smbclient winbind faketime
	simplesamlphp php-cli php-xml php-mbstring php-curl php-sqlite3
	postgresql python3-aiosmtpd)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
	SUDO=""
	if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
	# Installing these packages must not start system services (apache2,
	# smbd, slapd) listening on every interface: the tests start their own
	# servers on loopback. policy-rc.d exiting 101 tells invoke-rc.d so.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
		$SUDO chmod 755 /usr/sbin/policy-rc.d
	fi
	# No system slapd database: the tests build their own cn=config.
	echo "slapd slapd/no_configuration boolean true" | $SUDO debconf-set-selections
	echo "install-deps: installing ${missing[*]}"
	$SUDO apt-get update -qq
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ -f internal/harness/oidcprovider/package-lock.json ] && [ ! -d internal/harness/oidcprovider/node_modules ]; then
	echo "install-deps: npm ci (oidc-provider test IdP)"
	(cd internal/harness/oidcprovider && npm ci --no-audit --no-fund --loglevel=error)
fi
