#!/usr/bin/env bash
# https.sh — HTTPS hello world over keep-alive (issue 14): gortd (hello.so
# on --listen-tls), nginx (one worker, `return 200`, ssl_session_cache) and
# Go (bench/go/hellotls: http.ServeTLS), side by side in each round. The
# three use the same certificate (RSA 2048, made here with openssl) and
# the same cipher: wrk's OpenSSL is limited to TLS 1.3 with
# TLS_AES_128_GCM_SHA256 through an OPENSSL_CONF of its own, so each server
# negotiates exactly that (X25519 key exchange, every side's default).
#
# The server is pinned to SRV_CPU (CPU 0) with one P / one worker, wrk -t1
# to WRK_CPU (CPU 1). Per server and round: req/s (wrk) and server CPU µs
# per request, utime+stime of the whole process from /proc/PID/stat over
# the run divided by the requests wrk counted. Ratios gortd/nginx and
# gortd/Go are taken within each round (this VM's speed drifts between
# rounds) and printed round by round, then the median of each.
#
# Then the memory an idle TLS connection costs each server: IDLE of them
# (Python's ssl, one request each, then left open), server RSS before and
# after, divided by IDLE.
#
# Knobs: ROUNDS (5), SECS (5), CONNS (50), SRV_CPU (0), WRK_CPU (1),
# IDLE (1000; 0 skips), KINDS ("gort nginx go"), GORTD.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=${ROUNDS:-5}
SECS=${SECS:-5}
CONNS=${CONNS:-50}
SRV_CPU=${SRV_CPU:-0}
WRK_CPU=${WRK_CPU:-1}
IDLE=${IDLE:-1000}
KINDS=${KINDS:-"gort nginx go"}
PORT=${PORT:-19951}
LOGS=$OUT_DIR/logs/https
mkdir -p "$LOGS"

if [ -z "${GORTD:-}" ]; then
    bench_c_binary gortd >/dev/null 2>&1 || true
    GORTD=$BUILD_DIR/server/gortd
fi
[ -x "$GORTD" ] || { bench_log "no gortd at $GORTD"; exit 1; }
go_bin=$OUT_DIR/hellotls_go
bench_log "building $go_bin"
bench_go_build hellotls "$go_bin"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
TCK=$(getconf CLK_TCK)

# One certificate for all, and wrk's cipher.
PKI=$LOGS/pki
mkdir -p "$PKI"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout "$PKI/key.pem" \
    -out "$PKI/cert.pem" -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1
cat >"$PKI/client.cnf" <<'CNF'
openssl_conf = conf
[conf]
ssl_conf = ssl
[ssl]
system_default = sys
[sys]
MinProtocol = TLSv1.3
Ciphersuites = TLS_AES_128_GCM_SHA256
CNF

nginx_conf() { # PORT DIR
    cat <<CONF
worker_processes 1;
daemon off;
master_process off;
error_log $2/error.log;
pid $2/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000000;
    server {
        listen 127.0.0.1:$1 ssl;
        ssl_certificate $PKI/cert.pem;
        ssl_certificate_key $PKI/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:SSL:10m;
        location / {
            default_type application/json;
            return 200 "hello world\n";
        }
    }
}
CONF
}

SRV_PID=
start_server() { # KIND PORT
    local kind=$1 port=$2 dir=$LOGS/$1
    mkdir -p "$dir"
    case $kind in
    gort) mkdir -p "$dir/plugins"
          cp "$(dirname "$GORTD")/../plugins/hello.so" "$dir/plugins/"
          GOMAXPROCS=1 taskset -c "$SRV_CPU" "$GORTD" --listen 127.0.0.1:0 \
              --listen-tls "127.0.0.1:$port" --tls-cert "$PKI/cert.pem" \
              --tls-key "$PKI/key.pem" --control "unix:$dir/ctl.sock" \
              --quiet --plugins-dir "$dir/plugins" >"$dir/out.log" 2>&1 & ;;
    go) GOMAXPROCS=1 taskset -c "$SRV_CPU" "$go_bin" "127.0.0.1:$port" \
            "$PKI/cert.pem" "$PKI/key.pem" >"$dir/out.log" 2>&1 & ;;
    nginx) nginx_conf "$port" "$dir" >"$dir/nginx.conf"
           taskset -c "$SRV_CPU" "$NGINX" -c "$dir/nginx.conf" -p "$dir" \
               >"$dir/out.log" 2>&1 & ;;
    esac
    SRV_PID=$!
    for _ in $(seq 200); do
        curl -skf "https://127.0.0.1:$port/" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    bench_log "$kind did not start; $(tail -3 "$dir/out.log")"
    return 1
}

stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

# run PORT: "REQ_PER_S CPU_US_PER_REQ" for $SRV_PID.
run() {
    local before after out
    OPENSSL_CONF=$PKI/client.cnf taskset -c "$WRK_CPU" wrk -t1 -c"$CONNS" \
        -d1s "https://127.0.0.1:$1/" >/dev/null 2>&1 || true # warm
    before=$(bench_cpu_ticks "$SRV_PID")
    out=$(OPENSSL_CONF=$PKI/client.cnf taskset -c "$WRK_CPU" wrk -t1 \
        -c"$CONNS" -d"${SECS}s" "https://127.0.0.1:$1/" 2>&1) ||
        { echo "FAIL FAIL"; return; }
    after=$(bench_cpu_ticks "$SRV_PID")
    awk -v t=$((after - before)) -v hz="$TCK" '
        /Requests\/sec/ { r = $2 }
        / requests in / { n = $1 }
        /Non-2xx|Socket errors/ { bad = "!" }
        END { if (r == "" || n == 0) print "FAIL FAIL";
              else printf "%s%s %.1f\n", r, bad, t * 1e6 / hz / n }' <<<"$out"
}

# idle PORT: bytes of server RSS per idle TLS connection (IDLE of them).
idle() {
    local before after
    before=$(rss_kb "$SRV_PID")
    after=$(/usr/bin/python3 - "$1" "$IDLE" "$SRV_PID" <<'PY'
import socket, ssl, sys
port, n, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context()
ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
ctx.set_alpn_protocols(["http/1.1"])
socks = []
for _ in range(n):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)))
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    got = b""
    while b"hello world" not in got:
        got += s.recv(4096)
    socks.append(s)
import time; time.sleep(1)
with open("/proc/%s/status" % pid) as f:
    print([l.split()[1] for l in f if l.startswith("VmRSS")][0])
PY
)
    awk -v a="$after" -v b="$before" -v n="$IDLE" \
        'BEGIN { printf "%.0f", (a - b) * 1024 / n }'
}

ulimit -n 65536 2>/dev/null || true
declare -A REQ CPU MEM
RATIOS=""
for round in $(seq "$ROUNDS"); do
    line="| $round"
    declare -A rc=()
    for kind in gort nginx go; do # the table's column order
        if [[ " $KINDS " != *" $kind "* ]]; then
            line="$line | - | -" # a kind left out keeps its columns
            continue
        fi
        port=$PORT; PORT=$((PORT + 1))
        bench_log "https round $round/$ROUNDS: $kind"
        if start_server "$kind" "$port"; then
            read -r r c < <(run "$port")
            if [ "$round" -eq 1 ] && [ "$IDLE" -gt 0 ]; then
                MEM[$kind]=$(idle "$port" || echo FAIL)
            fi
        else
            r=FAIL c=FAIL
        fi
        stop_pid "$SRV_PID"
        REQ[$kind]="${REQ[$kind]:-} $r"
        CPU[$kind]="${CPU[$kind]:-} $c"
        rc[$kind]=$c
        line="$line | $r | $c"
    done
    cr=$(awk -v a="${rc[gort]:-0}" -v b="${rc[nginx]:-0}" 'BEGIN { if (b > 0 && a > 0) printf "%.2f", a / b; else print "-" }')
    co=$(awk -v a="${rc[gort]:-0}" -v b="${rc[go]:-0}" 'BEGIN { if (b > 0 && a > 0) printf "%.2f", a / b; else print "-" }')
    RATIOS="$RATIOS $cr"
    GORATIOS="${GORATIOS:-} $co"
    ROWS="${ROWS:-}$line | ${cr}x | ${co}x |"$'\n'
done

med() { bench_median $(printf '%s\n' $1 | tr -d '!' | grep -v -e FAIL -e '^-$' || echo 0); }
{
    echo "HTTPS hello world, keep-alive, -c $CONNS, TLS 1.3 TLS_AES_128_GCM_SHA256, RSA 2048; server on CPU $SRV_CPU (1 P / 1 worker), wrk -t1 on CPU $WRK_CPU"
    echo
    echo "| round | gortd req/s | gortd CPU µs/req | nginx req/s | nginx CPU µs/req | Go req/s | Go CPU µs/req | CPU gortd/nginx | CPU gortd/Go |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s' "$ROWS"
    g=$(med "${REQ[gort]:-}") n=$(med "${REQ[nginx]:-}") o=$(med "${REQ[go]:-}")
    gc=$(med "${CPU[gort]:-}") nc=$(med "${CPU[nginx]:-}") oc=$(med "${CPU[go]:-}")
    gr=$(med "$GORATIOS")
    [[ " $KINDS " == *" go "* ]] || o=- oc=- gr=- # Go left out (KINDS)
    echo "| median | $g | $gc | $n | $nc | $o | $oc | $(med "$RATIOS")x | ${gr}x |"
    echo
    echo "req/s gortd/nginx $(bench_ratio "$g" "$n")x, gortd/Go $(bench_ratio "$g" "$o")x (medians)."
    if [ "$IDLE" -gt 0 ]; then
        echo "Memory per idle TLS connection ($IDLE of them, RSS delta):" \
             "gortd ${MEM[gort]:-?} B, nginx ${MEM[nginx]:-?} B, Go ${MEM[go]:-?} B."
    fi
} | tee "$OUT_DIR/https.md"
