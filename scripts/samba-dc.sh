#!/usr/bin/env bash
# A throwaway Samba AD domain controller (Debian's samba) for tests, provisioned into DIR for DOMAIN,
# with OpenMPS's schema extension (schema/samba-extension.ldif).
#
#   scripts/samba-dc.sh start DIR DOMAIN   provision (unless DIR holds a stopped DC: start that again),
#                                          start, bring the schema extension up to date; prints url=,
#                                          bind_dn=, password_file=
#   scripts/samba-dc.sh stop DIR           stop it, wait for it to exit, remove its network namespace
#
# The extension is applied at every start by scripts/samba_schema.py, incrementally: what the DC
# lacks of it (an attribute, a class, a class's mayContain, an auxiliaryClass) is added, what it
# holds is left alone; so a DC provisioned by an older checkout gains the newer attributes.
# A DC's ports are fixed (88, 389, 636...), so each DC runs in a network namespace of its own
# (ip netns, root only), reached from here over a veth pair at 10.231.N.2: two test sessions, or a
# system slapd on 389, do not collide.  Without namespaces it falls back to 127.0.0.1 and refuses
# when port 389 is taken.  The URL is ldaps:// (a self-signed certificate made here):
# a simple bind needs TLS (ldaps or StartTLS), as in AD; its certificate, for the address it is reached at,
# is DIR/tls/ca.pem (printed as ca_file=).  The bind DN is the domain Administrator's,
# its password generated and kept in DIR/password (0600).  Durability is off (ldb:nosync,
# TDB_NO_FSYNC): the domain lives as long as a test session.
# OPENMPS_TEST_SAMBA_DIES=1 (tests only) kills samba as the extension is to be applied at the first try.
# Exits 3, as postgres.sh does, when samba is missing and cannot be installed (not root).
set -euo pipefail
usage="usage: samba-dc.sh start DIR DOMAIN | stop DIR"
command=${1:?$usage}
dir=${2:?$usage}
extension="$(cd "$(dirname "$0")/.." && pwd)/schema/samba-extension.ldif"
schema_tool="$(cd "$(dirname "$0")" && pwd)/samba_schema.py"

. "$(dirname "$0")/pidfile.sh"
stop() {
  stop_pid "$dir/samba.pid"
  if [ -f "$dir/netns" ]; then
    ip netns del "$(cat "$dir/netns")" 2>/dev/null || true  # takes the veth pair with it
    rm -f "$dir/netns"
  fi
}

case "$command" in
  start)
    domain=${3:?$usage}
    if [ "$(id -u)" != 0 ]; then
      echo "samba-dc.sh: a domain controller needs root (its ports, its files' ACLs)" >&2
      exit 3
    fi
    if ! command -v samba-tool >/dev/null || [ ! -x /usr/sbin/samba ]; then
      if command -v apt-get >/dev/null; then
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq samba samba-ad-dc samba-ad-provision \
          ldap-utils >/dev/null
      else
        echo "samba-dc.sh: no Samba (apt-get install samba samba-ad-dc samba-ad-provision)" >&2
        exit 3
      fi
    fi
    if [ -f "$dir/samba.pid" ] || [ -f "$dir/netns" ]; then
      echo "samba-dc.sh: $dir holds a DC already (stop it first)" >&2
      exit 1
    fi
    realm=$(echo "$domain" | tr '[:lower:]' '[:upper:]')
    netbios=$(echo "${realm%%.*}" | tr -cd 'A-Z0-9' | cut -c1-15)
    mkdir -p "$dir"
    umask 077
    provisioned=""
    [ -f "$dir/private/sam.ldb" ] && [ -f "$dir/etc/smb.conf" ] && provisioned=1
    # AD's complexity rules: upper, lower, digit and symbol
    [ -n "$provisioned" ] || printf '%s' "Aa1!$(head -c 18 /dev/urandom | base64 | tr -d '/+=')" >"$dir/password"
    run=()
    ip=127.0.0.1
    interfaces=lo
    ns="openmps-dc-$(printf '%s' "$(realpath "$dir")" | md5sum | cut -c1-8)"
    if ip netns add "$ns" 2>/dev/null; then
      echo "$ns" >"$dir/netns"
      # a /30 of its own: the first free 10.231.N.0; the veth pair's name is the lock (two
      # sessions starting at once: the second one's ip link add fails and it takes the next N)
      n=""
      for candidate in $(seq 1 250); do
        ip -o addr | grep -q " 10\.231\.$candidate\." && continue
        if ip link add "omps$candidate-h" type veth peer name "omps$candidate-d" netns "$ns" 2>/dev/null; then
          n=$candidate
          break
        fi
      done
      if [ -z "$n" ]; then
        echo "samba-dc.sh: no free 10.231.N.0/30 for the DC's network" >&2
        stop
        exit 1
      fi
      host_if="omps$n-h"
      dc_if="omps$n-d"
      ip addr add "10.231.$n.1/30" dev "$host_if"
      ip link set "$host_if" up
      ip -n "$ns" addr add "10.231.$n.2/30" dev "$dc_if"
      ip -n "$ns" link set "$dc_if" up
      ip -n "$ns" link set lo up
      ip="10.231.$n.2"
      interfaces="lo $dc_if"
      run=(ip netns exec "$ns")
    elif ip netns list | grep -q "^$ns "; then
      echo "samba-dc.sh: network namespace $ns is left from an earlier DC in $dir (ip netns del $ns)" >&2
      exit 1
    elif (exec 3<>/dev/tcp/127.0.0.1/389) 2>/dev/null; then
      echo "samba-dc.sh: port 389 is taken and no network namespace could be made: one DC at a time" >&2
      exit 1
    fi
    if [ -n "$provisioned" ]; then
      # started again: its network may be another veth pair this time
      sed -i "s#^\tinterfaces = .*#\tinterfaces = $interfaces#" "$dir/etc/smb.conf"
    else
      samba-tool domain provision --targetdir="$dir" --realm="$realm" --domain="$netbios" \
        --adminpass="$(cat "$dir/password")" --server-role=dc --dns-backend=NONE \
        --host-name=dc1 --host-ip="$ip" --option="interfaces=$interfaces" \
        --option="bind interfaces only=yes" >"$dir/provision.log" 2>&1 || {
        cat "$dir/provision.log" >&2
        stop
        exit 1
      }
    fi
    # a certificate naming the address clients reach the DC at (Samba's own names only its host),
    # so that a client verifying it against DIR/tls/ca.pem (itself) connects by the URL printed
    mkdir -p "$dir/tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=dc1.$domain" \
      -addext "subjectAltName=IP:$ip,DNS:dc1.$domain" -keyout "$dir/tls/key.pem" -out "$dir/tls/ca.pem" \
      >/dev/null 2>&1
    # provision writes no other --option to smb.conf: add them to [global]
    # and the run-time paths provision leaves in /run/samba, which two DCs would share;
    # a password reset ends the one before at once (AD lets it bind for an hour: OpenMPS resets a
    # password a failed request sent to an unknown one, which the tests show binding no more)
    mkdir -p "$dir/run"
    [ -n "$provisioned" ] || sed -i "s#^\[global\]#[global]\n\tlog file = $dir/log.%m\n\tldb:nosync = true\n\tdsdb:schema update allowed = true\n\told password allowed period = 0\n\ttls keyfile = $dir/tls/key.pem\n\ttls certfile = $dir/tls/ca.pem\n\ttls cafile = \n\tpid directory = $dir/run\n\tncalrpc dir = $dir/run/ncalrpc\n\twinbindd socket directory = $dir/run/winbindd#" \
      "$dir/etc/smb.conf"
    TDB_NO_FSYNC=1 nohup "${run[@]}" /usr/sbin/samba -s "$dir/etc/smb.conf" --foreground --no-process-group \
      --debug-stdout -d 1 -M single >"$dir/samba.out" 2>&1 &
    echo $! >"$dir/samba.pid"
    url="ldaps://$ip"
    bind_dn="CN=Administrator,CN=Users,DC=${domain//./,DC=}"
    export LDAPTLS_REQCERT=never
    ready=""
    for _ in $(seq 600); do
      if ldapsearch -x -H "$url" -D "$bind_dn" -y "$dir/password" -b "" -s base defaultNamingContext \
        2>/dev/null | grep -q ^defaultNamingContext; then
        ready=1
        break
      fi
      kill -0 "$(cat "$dir/samba.pid")" 2>/dev/null || break
      sleep 0.1
    done
    if [ -z "$ready" ]; then
      echo "samba-dc.sh: samba did not start; its output:" >&2
      tail -n 30 "$dir/samba.out" >&2
      stop
      exit 1
    fi
    schema_dn="CN=Schema,CN=Configuration,DC=${domain//./,DC=}"
    if [ -n "${OPENMPS_TEST_SAMBA_DIES:-}" ] && [ -z "${SAMBA_DC_AGAIN:-}" ]; then
      # tests only (test_samba_schema.py): samba killed as the extension is to be applied, so
      # that the start once more below is exercised for real
      kill -9 "$(cat "$dir/samba.pid")"
    fi
    python=python3
    [ -x /usr/bin/python3 ] && python=/usr/bin/python3
    { "$python" "$schema_tool" "$extension" "$schema_dn" "$url" "$bind_dn" "$dir/password" >"$dir/schema.ldif" &&
      { [ ! -s "$dir/schema.ldif" ] ||
        ldapmodify -x -H "$url" -D "$bind_dn" -y "$dir/password" -f "$dir/schema.ldif"; }; } \
      >"$dir/schema.log" 2>&1 || {
      cat "$dir/schema.log" >&2
      stop
      # samba has been seen to abort while a schema class was being added (once in about ten
      # starts, on a loaded machine); the extension is applied incrementally, so starting the DC
      # again finishes what the first start began
      if [ -z "${SAMBA_DC_AGAIN:-}" ]; then
        echo "samba-dc.sh: the schema extension failed; starting the DC again to finish it" >&2
        SAMBA_DC_AGAIN=1 exec "$0" start "$dir" "$domain"
      fi
      exit 1
    }
    echo "url=$url"
    echo "bind_dn=$bind_dn"
    echo "password_file=$dir/password"
    echo "ca_file=$dir/tls/ca.pem"
    ;;
  stop)
    stop
    ;;
  *)
    echo "samba-dc.sh: unknown command '$command'" >&2
    exit 2
    ;;
esac
