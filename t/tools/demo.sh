#!/bin/bash
# SPDX-License-Identifier: ISC
# demo.sh: starts gotunnel-master, gotunnel-admin and a demo client on
# 127.0.0.1 (state under run/demo/), creates the console user "admin" with a
# fresh random password, and prints where to look.  `make demo-stop` ends it.
set -eu
cd "$(dirname "$0")/../.."
top=$(pwd)
dir=$top/run/demo
mkdir -p "$dir"
chmod 700 "$dir"

# Stop a previous demo first, so ports are free.
sh t/tools/demo-stop.sh >/dev/null 2>&1 || true

# A port from the default if free, else the next free one (bounded search).
free_port() {
	p=$1
	for _ in $(seq 1 200); do
		if ! (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
		p=$((p + 1))
	done
	echo "no free port near $1" >&2; exit 1
}
ctl_port=$(free_port 7000)
admin_port=$(free_port 7500)
web_port=$(free_port 8080)
token=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')

cat >"$dir/gotunnel.ini" <<CONF
; Written by make demo.
[common]
bind_addr = 127.0.0.1
bind_port = $ctl_port
token = $token
allow_ports = 10000-20000
workers = 2
data_dir = $dir/data
control_socket = $dir/data/control.sock
heartbeat_timeout = 30

[admin]
bind_addr = 127.0.0.1
bind_port = $admin_port
assets = $top/frontend/dist
CONF
cat >"$dir/gotunnel-client.ini" <<CONF
; Written by make demo.
[common]
server_addr = 127.0.0.1
server_port = $ctl_port
token = $token
name = gotunnel-demo
heartbeat_interval = 10
heartbeat_timeout = 30

[web]
type = tcp
local_ip = 127.0.0.1
local_port = $web_port
remote_port = 10080

[ssh]
type = tcp
local_ip = 127.0.0.1
local_port = 22
remote_port = 10022
CONF

# A small local web service for the [web] mapping.
mkdir -p "$dir/www"
echo "<h1>Hello through gotunnel</h1>" >"$dir/www/index.html"
nohup python3 -m http.server "$web_port" --bind 127.0.0.1 --directory "$dir/www" \
	>"$dir/web.log" 2>&1 &
echo $! >"$dir/web.pid"
for _ in $(seq 1 50); do (echo >"/dev/tcp/127.0.0.1/$web_port") 2>/dev/null && break; sleep 0.1; done

nohup bin/gotunnel-master -c "$dir/gotunnel.ini" >"$dir/master.log" 2>&1 &
echo $! >"$dir/master.pid"
for _ in $(seq 1 50); do [ -S "$dir/data/control.sock" ] && break; sleep 0.1; done

password=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
if bin/gotunnelctl -c "$dir/gotunnel.ini" user list 2>/dev/null | awk '{print $1}' | grep -qx admin; then
	printf '%s\n' "$password" | bin/gotunnelctl -c "$dir/gotunnel.ini" user passwd admin >/dev/null
else
	printf '%s\n' "$password" | bin/gotunnelctl -c "$dir/gotunnel.ini" user add admin >/dev/null
fi

nohup bin/gotunnel-admin -c "$dir/gotunnel.ini" >"$dir/admin.log" 2>&1 &
echo $! >"$dir/admin.pid"
nohup bin/gotunnel-client -c "$dir/gotunnel-client.ini" >"$dir/client.log" 2>&1 &
echo $! >"$dir/client.pid"

for _ in $(seq 1 50); do
	bin/gotunnelctl -c "$dir/gotunnel.ini" mappings 2>/dev/null | grep -q 10080 && break
	sleep 0.2
done

cat <<MSG

gotunnel demo is running (state and logs in $dir):
  master   127.0.0.1:$ctl_port    bin/gotunnelctl -c $dir/gotunnel.ini status
  client   gotunnel-demo: 127.0.0.1:$web_port -> 127.0.0.1:10080, 127.0.0.1:22 -> 127.0.0.1:10022
  try      curl http://127.0.0.1:10080/
  console  http://127.0.0.1:$admin_port/
  login    user: admin   password: $password   (shown once; make demo again for a new one)
  stop     make demo-stop
MSG
