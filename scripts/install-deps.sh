#!/usr/bin/env bash
# Installs every Debian package gort's build, tests and benchmarks need.
# Idempotent: packages already present are left alone; apt-get runs only when
# something is missing, so `make test` on a ready machine costs no network.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config clang clang-format libclang-rt-14-dev
  libcmocka-dev
  protobuf-c-compiler libprotobuf-c-dev protobuf-compiler
  libgrpc-dev libprotobuf-dev protobuf-compiler-grpc
  python3 python3-grpcio python3-protobuf python3-prometheus-client
  golang-go nginx wrk hyperfine curl
  valgrind strace procps openssl qemu-user chromium
  libdw-dev libelf-dev libsystemd-dev libssl-dev prometheus
  # tests/ops/test_fleet.py and test_kubernetes.py: network namespaces
  iproute2
  # tests/ops/test_kubernetes.py: parses deploy/kubernetes/*.yaml
  python3-yaml
  # the io_uring netpoll backend (runtime/netpoll_uring.c, --netpoll=io_uring)
  liburing-dev
)
# tests/arch runs the other architecture's context switch under qemu.
case "$(uname -m)" in
  x86_64) PKGS+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross) ;;
  aarch64) PKGS+=(gcc-x86-64-linux-gnu libc6-dev-amd64-cross) ;;
esac

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
    || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
