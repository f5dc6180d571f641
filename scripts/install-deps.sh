#!/usr/bin/env bash
# Installs the real servers dirbridge's tests run against (Debian packages)
# and the oidc-provider test IdP (npm). Idempotent: does nothing when all is
# present. Needs root (or sudo) the first time.
set -euo pipefail
cd "$(dirname "$0")/.."

# Every package whose files the harness (internal/harness), the demo, the
# benchmark or the Makefile use is named here, not left to arrive as a
# dependency's Recommends: apt-get below runs with --no-install-recommends.
# What each one gives (dpkg -S):
#   slapd               /usr/sbin/slapd, /usr/sbin/slapadd, /usr/lib/ldap/{back_mdb,memberof,refint,ppolicy}.so,
#                       /etc/ldap/schema/{core,cosine,nis,inetorgperson}.ldif
#   ldap-utils          /usr/bin/ldapmodify, /usr/bin/ldapsearch (harness, bench)
#   samba               /usr/sbin/samba (also the KDC the Kerberos sign-in tests get tickets from)
#   samba-common-bin    /usr/bin/samba-tool (provisioning, PSOs, aged passwords, SPNs, keytab export)
#   samba-ad-provision  /usr/share/samba/setup (AD schema and provisioning LDIF; only Recommended by samba)
#   samba-ad-dc         the AD DC's modules (samba-dsdb-modules, samba-vfs-modules)
#   winbind             /usr/sbin/winbindd, which samba starts as a DC
#   faketime            /usr/bin/faketime (Samba passwords set in the past)
#   simplesamlphp       /usr/share/simplesamlphp/www, /etc/simplesamlphp/config.php
#   php-cli             /usr/bin/php (php8.2-cli; only Recommended by simplesamlphp)
#   php-xml php-mbstring  PHP's dom/xml/SimpleXML and mbstring, which SimpleSAMLphp needs
#   postgresql          /usr/lib/postgresql/VERSION/bin/{initdb,postgres} and the postgres system user
#   make                the Makefile (make test, make demo, make bench; .ci/run)
#   chromium            /usr/bin/chromium, the headless browser of the console's tests and make screenshots
#   fonts-dejavu-core   a font for the screenshots (headless chromium draws nothing legible without one)
#   systemd             /usr/bin/systemd-analyze (the unit's hardening score, cmd/dirbridge deploy_test.go)
# krb5-user, smbclient, php-curl, php-sqlite3 and python3-aiosmtpd are named
# from before; nothing in the tree runs them today (the Kerberos tests get
# tickets with gokrb5's client, not kinit).
# setpriv (util-linux), coreutils and findutils are Essential. Node.js >= 20
# with npm (the oidc-provider test IdP) is not in Debian 12 (bookworm's
# nodejs is 18): it is checked below, not installed. Go is likewise installed
# by hand (go.mod asks for a newer Go than Debian's).
packages=(slapd ldap-utils samba-ad-dc samba samba-common-bin samba-ad-provision krb5-user smbclient winbind faketime
	simplesamlphp php-cli php-xml php-mbstring php-curl php-sqlite3
	postgresql python3-aiosmtpd make systemd chromium fonts-dejavu-core)

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

# Node.js runs the oidc-provider test IdP. It comes from outside Debian 12
# (NodeSource, nvm, the machine image), so it is checked, not installed.
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ] || ! command -v npm >/dev/null 2>&1; then
	echo "install-deps: Node.js >= 20 with npm is needed for the oidc-provider test IdP (found: $(node --version 2>/dev/null || echo none));" \
		"Debian 12's nodejs is 18: install Node.js 20 or later (e.g. NodeSource's nodejs package) and run scripts/install-deps.sh again" >&2
	exit 1
fi

if [ -f internal/harness/oidcprovider/package-lock.json ] && [ ! -d internal/harness/oidcprovider/node_modules ]; then
	echo "install-deps: npm ci (oidc-provider test IdP)"
	(cd internal/harness/oidcprovider && npm ci --no-audit --no-fund --loglevel=error)
fi
