#!/bin/sh
# Runs a libFuzzer target for a bounded time over the seed corpus without writing into
# it: new inputs go to a temporary directory that is removed afterwards.
#   run_fuzz.sh FUZZER CORPUS_DIR SECONDS
set -eu
fuzzer=$1 corpus=$2 seconds=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$work/" "$work" "$corpus"
