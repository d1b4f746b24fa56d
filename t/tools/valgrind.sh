#!/bin/bash
# SPDX-License-Identifier: ISC
# valgrind.sh: runs master (with its workers) and a client under valgrind,
# relays traffic, stops them cleanly, and checks each process for leaks and
# memory errors.  Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 1
top=$(pwd)
bin=${GOTUNNEL_BIN:-bin}
tmp=$(mktemp -d /tmp/gtvg.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ctl=$(free_port); svc=$(free_port); pub=$(free_port); usvc=$(free_port); upub=$(free_port); hook=$(free_port)
# TLS on (the client pins the certificate), clear text allowed too so the
# raw bad-frame and bad-token checks below still reach the parser.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1
fp=sha256:$(openssl x509 -in "$tmp/cert.pem" -outform der | sha256sum | cut -d' ' -f1)
cat >"$tmp/s.ini" <<CONF
[common]
bind_addr = 127.0.0.1
bind_port = $ctl
token = vg-token
allow_ports = $pub,$upub
workers = 2
data_dir = $tmp/data
tls_cert_file = $tmp/cert.pem
tls_key_file = $tmp/key.pem
allow_plaintext = true
; Two bad tokens raise an alert; its webhook (nobody listens) is retried:
; libcurl on the master's loop runs under valgrind too.
[alert.vg]
webhook_url = http://127.0.0.1:$hook/hook
events = auth_failures
auth_failures_per_min = 1
CONF
# The client uses a per-client credential and a source ACL: those paths too.
secret=$("$bin/gotunnelctl" -c "$tmp/s.ini" token add vg --ports "$pub,$upub" --allow 127.0.0.0/8 | tail -n 1)
cat >"$tmp/c.ini" <<CONF
[common]
server_port = $ctl
token = $secret
name = vg
server_fingerprint = $fp
[echo]
local_port = $svc
remote_port = $pub
; The limited relay path (token buckets, throttle timers) runs under valgrind too.
bandwidth_limit = 8MB
conn_rate = 100
allow_cidrs = 127.0.0.1, ::1
deny_cidrs = 10.0.0.0/8
; UDP flows (server/udp.c, client/udp.c) run under valgrind too.
[dns]
type = udp
local_port = $usvc
remote_port = $upub
CONF
# A local echo service (bounded: exits with the test).
python3 - "$svc" <<'PY' &
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
def echo(c):
    while True:
        b = c.recv(65536)
        if not b: break
        c.sendall(b)
    c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=echo, args=(c,), daemon=True).start()
PY
pids+=($!)
# A local UDP echo service.
python3 - "$usvc" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    d, a = s.recvfrom(65536); s.sendto(d, a)
PY
pids+=($!)
vg="valgrind --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99"
$vg --trace-children=yes --log-file="$tmp/vg-master.%p.log" "$bin/gotunnel-master" -c "$tmp/s.ini" >"$tmp/master.log" 2>&1 &
mpid=$!; pids+=($mpid)
sleep 3
$vg --log-file="$tmp/vg-client.%p.log" "$bin/gotunnel-client" -c "$tmp/c.ini" >"$tmp/client.log" 2>&1 &
cpid=$!; pids+=($cpid)
for _ in $(seq 1 60); do "$bin/gotunnelctl" -c "$tmp/s.ini" mappings 2>/dev/null | grep -q "^$upub " && break; sleep 0.5; done

passed=0; failed=0
check() { if [ "$1" = 0 ]; then echo "ok $2"; passed=$((passed+1)); else echo "FAIL $2"; failed=$((failed+1)); fi; }

python3 - "$pub" <<'PY'
import hashlib, os, socket, sys, threading
data = os.urandom(8 << 20)
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
h = hashlib.sha256(); n = [0]
def rd():
    while True:
        b = s.recv(1 << 20)
        if not b: break
        h.update(b); n[0] += len(b)
t = threading.Thread(target=rd); t.start()
s.sendall(data); s.shutdown(socket.SHUT_WR); t.join(60)
sys.exit(0 if n[0] == len(data) and h.digest() == hashlib.sha256(data).digest() else 1)
PY
check $? "8 MiB echoed intact through the TLS tunnel under valgrind"
grep -q "connected to .* with TLSv1.3" "$tmp/client.log"
check $? "the client's control connection used TLS 1.3"
python3 - "$upub" <<'PY'
import os, socket, sys
ok = 0
for src in ("127.0.0.2", "127.0.0.3"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((src, 0)); s.settimeout(30)
    for n in (0, 1, 1400, 9000, 65507):
        d = os.urandom(n); s.sendto(d, ("127.0.0.1", int(sys.argv[1])))
        ok += s.recvfrom(65536)[0] == d
sys.exit(0 if ok == 10 else 1)
PY
check $? "UDP datagrams up to 65,507 bytes from two sources echoed whole under valgrind"
# A bad frame and a bad token exercise the error paths.
python3 - "$ctl" <<'PY'
import socket, struct, sys
for payload in (b'{bad', b'{"type":"register","local_port":1,"token":"nope"}',
                b'{"type":"register","local_port":1,"token":"nope"}'):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
    s.sendall(struct.pack(">I", len(payload)) + payload); s.recv(1000); s.close()
PY
for _ in $(seq 1 20); do grep -q "alert to vg failed" "$tmp/master.log" && break; sleep 0.5; done
grep -q "alert to vg failed" "$tmp/master.log"; check $? "an alert webhook was tried (and failed) under valgrind"
kill -TERM "$cpid"; wait "$cpid"; check $? "client exits cleanly, no leaks or errors"
kill -TERM "$mpid"; wait "$mpid"; check $? "master exits cleanly, no leaks or errors"
for f in "$tmp"/vg-*.log; do
	cmd=$(grep -m1 "Command:" "$f" | sed 's/.*Command: //')
	if grep -q "ERROR SUMMARY: 0 errors" "$f"; then check 0 "valgrind: $cmd"
	else check 1 "valgrind: $cmd"; sed -n '/LEAK SUMMARY\|Invalid\|uninitialised/,+6p' "$f" | head -30; fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
