#!/bin/sh
# SPDX-License-Identifier: ISC
# gotunnel-start.sh ROLE [-t]: writes gotunnel.ini from the environment and
# runs ROLE = master (gotunnel-master) or admin (gotunnel-admin) with it; -t
# only checks the result (the program's own -t).  Used by
# deploy/docker-compose.yml and deploy/kubernetes/ so that no configuration
# file carries a secret: the token and the database URL come from files
# (Docker/Kubernetes secrets) or the environment, and the file is written
# with mode 600 into a private runtime directory.
#
#   GOTUNNEL_TOKEN_FILE          file with the token (first line)      [required]
#   GOTUNNEL_DATABASE_URL        libpq connection string, or
#   GOTUNNEL_DATABASE_URL_FILE   a file holding it; none: no [cluster] (one master)
#   GOTUNNEL_NODE_NAME           node_name (default: the host name, e.g. the pod name)
#   GOTUNNEL_ADVERTISE_ADDR      advertise_addr (where users reach this node's ports)
#   GOTUNNEL_NODE_TIMEOUT        node_timeout (default 15s)
#   GOTUNNEL_ALLOW_PORTS         allow_ports (default 10000-10100)
#   GOTUNNEL_BIND_PORT           bind_port (default 7000)
#   GOTUNNEL_TLS_CERT_FILE, GOTUNNEL_TLS_KEY_FILE
#                                the master's TLS pair (control and data connections)
#   GOTUNNEL_ADMIN_PORT          the admin's port (default 7500)
#   GOTUNNEL_ADMIN_TLS_CERT, GOTUNNEL_ADMIN_TLS_KEY
#                                the admin's HTTPS pair; without it the admin
#                                serves plain HTTP on 127.0.0.1 only
#   GOTUNNEL_CONF                where to write the file (default /run/gotunnel/gotunnel.ini)
#   GOTUNNEL_DATA_DIR            data_dir (default /var/lib/gotunnel; shared by master and admin)
set -eu

role=${1:-master}
check=
[ "${2:-}" != "-t" ] || check=-t
conf=${GOTUNNEL_CONF:-/run/gotunnel/gotunnel.ini}
data=${GOTUNNEL_DATA_DIR:-/var/lib/gotunnel}
token_file=${GOTUNNEL_TOKEN_FILE:-/run/secrets/gotunnel-token}

die() { echo "gotunnel-start: $*" >&2; exit 1; }

[ -r "$token_file" ] || die "token file $token_file is missing (GOTUNNEL_TOKEN_FILE)"
token=$(head -n 1 "$token_file" | tr -d '\r')
[ -n "$token" ] || die "token file $token_file is empty"
db=${GOTUNNEL_DATABASE_URL:-}
if [ -z "$db" ] && [ -n "${GOTUNNEL_DATABASE_URL_FILE:-}" ]; then
	[ -r "$GOTUNNEL_DATABASE_URL_FILE" ] || die "$GOTUNNEL_DATABASE_URL_FILE is missing"
	db=$(head -n 1 "$GOTUNNEL_DATABASE_URL_FILE" | tr -d '\r')
fi
case "$token$db" in
*"
"*) die "the token and the database URL must be one line each" ;;
esac

mkdir -p "$(dirname "$conf")"
umask 077
{
	echo "[common]"
	echo "bind_addr = 0.0.0.0"
	echo "bind_port = ${GOTUNNEL_BIND_PORT:-7000}"
	echo "proxy_bind_addr = 0.0.0.0"
	echo "token = $token"
	echo "allow_ports = ${GOTUNNEL_ALLOW_PORTS:-10000-10100}"
	echo "data_dir = $data"
	echo "control_socket = $data/control.sock"
	echo "log_level = ${GOTUNNEL_LOG_LEVEL:-info}"
	if [ -n "${GOTUNNEL_TLS_CERT_FILE:-}" ]; then
		echo "tls_cert_file = $GOTUNNEL_TLS_CERT_FILE"
		echo "tls_key_file = ${GOTUNNEL_TLS_KEY_FILE:?GOTUNNEL_TLS_KEY_FILE goes with GOTUNNEL_TLS_CERT_FILE}"
	fi
	echo
	echo "[admin]"
	echo "bind_port = ${GOTUNNEL_ADMIN_PORT:-7500}"
	echo "assets = /usr/share/gotunnel/console"
	if [ -n "${GOTUNNEL_ADMIN_TLS_CERT:-}" ]; then
		# HTTPS: reachable from outside the container.
		echo "bind_addr = 0.0.0.0"
		echo "tls_cert = $GOTUNNEL_ADMIN_TLS_CERT"
		echo "tls_key = ${GOTUNNEL_ADMIN_TLS_KEY:?GOTUNNEL_ADMIN_TLS_KEY goes with GOTUNNEL_ADMIN_TLS_CERT}"
	else
		echo "bind_addr = 127.0.0.1"
	fi
	if [ -n "$db" ]; then
		echo
		echo "[cluster]"
		echo "database = $db"
		echo "node_name = ${GOTUNNEL_NODE_NAME:-$(hostname)}"
		[ -z "${GOTUNNEL_ADVERTISE_ADDR:-}" ] ||
			echo "advertise_addr = $GOTUNNEL_ADVERTISE_ADDR"
		echo "node_timeout = ${GOTUNNEL_NODE_TIMEOUT:-15s}"
	fi
} > "$conf"

case "$role" in
master) exec gotunnel-master $check -c "$conf" ;;
admin) exec gotunnel-admin $check -c "$conf" ;;
*) die "unknown role '$role' (master or admin)" ;;
esac
