#!/usr/bin/env bash
# A throwaway OpenLDAP server (Debian's slapd) for tests: its own instance in DIR, listening on
# 127.0.0.1:PORT, with the OpenMPS schema (schema/openmps.schema) and core.schema as AD has it
# (schema/ad-core.schema: person without a required sn, mail a Directory String, streetAddress not
# another name for street), merged into DIR/core.schema at each start.
#
#   scripts/openldap.sh start DIR PORT DOMAIN   configure and start; prints url=, bind_dn=, password_file=
#   scripts/openldap.sh stop DIR                stop it and wait for it to exit
#
# The suffix comes from DOMAIN (example.com -> dc=example,dc=com); the root DN is cn=admin under it,
# its password generated and kept in DIR/password (0600).  OPENMPS_LDAP_NOSYNC=1 adds mdb's
# dbnosync (2.5-6x faster writes; a crash may lose the last writes: fine for a test session).
# slapd.conf rather than cn=config: the instance lives as long as a test session and is configured
# once, from a file we write, with the schema file included as it is; cn=config would need a
# slapadd of the same settings turned into LDIF, for live changes nobody makes here.
# slapo-unique keeps sAMAccountName, userPrincipalName, proxyAddresses and
# msRTCSIP-PrimaryUserAddress unique in the whole suffix (each on its own: one URI each), and
# objectGUID and objectSid, which AD keeps unique and OpenMPS writes itself on OpenLDAP.
# A disabled account (userAccountControl's ACCOUNTDISABLE bit, 0x2, tested by AD's own bitwise rule
# 1.2.840.113556.1.4.803, which slapd knows) cannot bind: slapd itself ignores userAccountControl,
# so an ACL denies even "auth" on its password while the bit is set. Password hashes are never read
# by anyone but their owner (the root DN, which OpenMPS binds as, is above the ACLs).
# A start on an existing DIR keeps its entries and loads the schema of this checkout: when that
# schema or the index list changed since the last start (DIR/schema.sum), slapindex rebuilds the
# indexes first (an index key depends on the attribute's matching rule: mail's changed).
# Exits 3, as postgres.sh does, when slapd is missing and cannot be installed (not root).
set -euo pipefail
usage="usage: openldap.sh start DIR PORT DOMAIN | stop DIR"
command=${1:?$usage}
dir=${2:?$usage}
schemas="$(cd "$(dirname "$0")/.." && pwd)/schema"

# core.schema with each definition of ad-core.schema in place of core's with the same OID, and
# those whose OID core.schema lacks at its end (a name defined twice is slaptest's error)
merged_core() {
  awk '
    function oid(line) { sub(/^[A-Za-z]+[ \t]*\([ \t]*/, "", line); sub(/[ \t].*/, "", line); return line }
    function starts(line) { return tolower(line) ~ /^(attributetype|objectclass)[ \t]*\(/ }
    FNR == NR {
      if (starts($0)) { key = oid($0); ours[key] = "" }
      else if ($0 !~ /^[ \t]/) key = ""
      if (key != "") ours[key] = ours[key] $0 "\n"
      next
    }
    starts($0) { key = oid($0); skip = (key in ours); if (skip) { printf "%s", ours[key]; used[key] = 1 } }
    !starts($0) && $0 !~ /^[ \t]/ { skip = 0 }
    !skip { print }
    END { for (key in ours) if (!(key in used)) printf "\n%s", ours[key] }
  ' "$schemas/ad-core.schema" /etc/ldap/schema/core.schema
}

. "$(dirname "$0")/pidfile.sh"
stop() { stop_pid "$dir/slapd.pid"; }

case "$command" in
  start)
    port=${3:?$usage}
    domain=${4:?$usage}
    if ! command -v slapd >/dev/null && [ ! -x /usr/sbin/slapd ]; then
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slapd ldap-utils >/dev/null
      else
        echo "openldap.sh: no OpenLDAP server (apt-get install slapd ldap-utils)" >&2
        exit 3
      fi
    fi
    suffix=$(echo "$domain" | sed 's/^/dc=/; s/\./,dc=/g')
    bind_dn="cn=admin,$suffix"
    mkdir -p "$dir/db"
    umask 077
    printf '%s' "$(head -c 24 /dev/urandom | base64 | tr -d '/+=')" >"$dir/password"  # no newline
    hash=$(/usr/sbin/slappasswd -T "$dir/password")
    nosync=""
    [ -n "${OPENMPS_LDAP_NOSYNC:-}" ] && nosync="dbnosync"
    merged_core >"$dir/core.schema"
    cat >"$dir/slapd.conf" <<CONF
include $dir/core.schema
include /etc/ldap/schema/cosine.schema
include $schemas/openmps.schema
pidfile $dir/slapd.pid
argsfile $dir/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload unique
moduleload argon2
sizelimit unlimited

database mdb
maxsize 1073741824
$nosync
suffix "$suffix"
rootdn "$bind_dn"
rootpw $hash
directory $dir/db
index objectClass eq
index cn eq,sub
index sAMAccountName,userPrincipalName,proxyAddresses,mail,mailNickname eq,sub
index msRTCSIP-PrimaryUserAddress eq
index objectGUID,objectSid,member,managedBy,homeMDB,uPNSuffixes,openmpsImportedFrom eq
overlay unique
unique_uri ldap:///?sAMAccountName?sub
unique_uri ldap:///?userPrincipalName?sub
unique_uri ldap:///?proxyAddresses?sub
unique_uri ldap:///?msRTCSIP-PrimaryUserAddress?sub
unique_uri ldap:///?objectGUID?sub
unique_uri ldap:///?objectSid?sub
access to filter=(userAccountControl:1.2.840.113556.1.4.803:=2) attrs=userPassword
  by * none
access to attrs=userPassword
  by self read
  by anonymous auth
  by * none
access to *
  by * read
CONF
    # slapd reports a bad configuration to syslog only: check it first, where the error is seen
    /usr/sbin/slaptest -u -Q -f "$dir/slapd.conf" >&2
    sum=$(cat "$dir/core.schema" /etc/ldap/schema/cosine.schema "$schemas/openmps.schema" \
      <(grep '^index' "$dir/slapd.conf") | sha256sum | cut -d' ' -f1)
    if [ -e "$dir/db/data.mdb" ] && [ "$(cat "$dir/schema.sum" 2>/dev/null)" != "$sum" ]; then
      /usr/sbin/slapindex -q -f "$dir/slapd.conf" >&2
    fi
    echo "$sum" >"$dir/schema.sum"
    url="ldap://127.0.0.1:$port"
    # -d 0: stay in the foreground (so the pid is slapd's) without debug output
    nohup /usr/sbin/slapd -d 0 -h "$url/" -f "$dir/slapd.conf" >"$dir/slapd.log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/slapd.pid"
    for _ in $(seq 200); do
      if ldapsearch -x -H "$url" -b "" -s base namingContexts >/dev/null 2>&1; then
        echo "url=$url"
        echo "bind_dn=$bind_dn"
        echo "password_file=$dir/password"
        exit 0
      fi
      if ! kill -0 "$pid" 2>/dev/null; then break; fi
      sleep 0.05
    done
    echo "openldap.sh: slapd did not start; its log:" >&2
    cat "$dir/slapd.log" >&2
    stop
    exit 1
    ;;
  stop)
    stop
    ;;
  *)
    echo "openldap.sh: unknown command '$command'" >&2
    exit 2
    ;;
esac
