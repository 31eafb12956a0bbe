#!/usr/bin/env bash
# ferry's quick start on Debian 12: installs the build dependencies, builds ferry and the
# demo upstream into build/ (when needed), then runs ferry in the foreground on
# examples/demo.conf, in front of the demo upstream. Open http://127.0.0.1:8080/ and type
# a message: the page and its WebSocket both go through ferry on port 8080.
# Ctrl-C stops ferry and the upstream.
#
#   sudo bash examples/demo.sh     (root or sudo is needed only to install packages)
#
# FERRY_BUILD_DIR overrides the build directory (default: build/ in the repository).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${FERRY_BUILD_DIR:-$repo/build}
packages=(meson ninja-build g++ pkg-config libssl-dev node-llhttp libfmt-dev catch2
          libpcre2-dev)

say() { echo "demo: $*" >&2; }

install_packages() {
    local missing=() p
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local as_root=()
    [ "$(id -u)" -ne 0 ] && as_root=(sudo)
    say "installing ${missing[*]}"
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Runs a build step quietly; shows its output only when it fails.
quietly() {
    local log
    log=$(mktemp /tmp/ferry-demo-build.XXXXXX)
    if ! "$@" >"$log" 2>&1; then
        tail -40 "$log" >&2
        rm -f "$log"
        say "build failed: $*"
        exit 1
    fi
    rm -f "$log"
}

build_demo() {
    if [ ! -f "$build/build.ninja" ]; then
        say "configuring $build"
        quietly meson setup "$build" "$repo"
    fi
    say "building ferry and the demo upstream"
    quietly ninja -C "$build" ferry examples/demo_upstream/ferry-demo-upstream
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for_port() {
    for _ in $(seq 50); do
        port_in_use "$1" && return 0
        sleep 0.1
    done
    return 1
}

install_packages
build_demo

for port in 8080 8081; do
    if port_in_use "$port"; then
        say "port $port on 127.0.0.1 is in use (see: ss -ltnp 'sport = :$port'); stop that first"
        exit 1
    fi
done

upstream_pid=
stop_upstream() {
    if [ -n "$upstream_pid" ]; then
        kill "$upstream_pid" 2>/dev/null || true
        wait "$upstream_pid" 2>/dev/null || true
    fi
}
trap stop_upstream EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The EXIT trap stops the upstream however the script ends: Ctrl-C, or ferry exiting.
"$build/examples/demo_upstream/ferry-demo-upstream" --listen 127.0.0.1:8081 &
upstream_pid=$!
wait_for_port 8081 || { say "the demo upstream did not start"; exit 1; }

say "open http://127.0.0.1:8080/ in a browser (Ctrl-C stops the demo)"
"$build/ferry" -p "$repo/examples/" -c "$repo/examples/demo.conf"
# Not the script's last command: a Ctrl-C that reached ferry and bash together runs the
# INT trap (exit 130) here, at the next command, instead of being lost at the script's end.
status=$?
exit "$status"
