#!/bin/bash
# Instructions per operation of two built checkouts, counted by callgrind: deterministic
# where wall-clock figures on a shared machine are not, so a change's cost shows up even
# when the machine is loaded. Not part of `make bench`.
#
# usage: bench/compare_builds.sh DIR_A DIR_B    (each a checkout after `make lib examples`)
#
# Rows: switch (one gh_yield ping-pong iteration), spawn (spawn + exit, both modes), C echo
# and Python echo (the seed's program through the shim): one connection, one line in flight,
# so each request is one trip through the loop. Each figure is the slope between a short and
# a long run, which cancels start-up; the echo rows are the median of three slopes (whether
# a read finds the next line already there varies with timing). Under callgrind the server
# is slower than its client, so the next line is nearly always there already: a change in
# how a drained socket waits (a poll instead of a read) shows up here as it would not at
# full speed. "n/a": a server served nothing (it failed to start: see its checkout's build).
set -e
A=$(cd "$1" && pwd); B=$(cd "$2" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
PY=${PY:-python3}

cargo build --release --quiet --manifest-path "$HERE/loadgen/Cargo.toml" --target-dir "$W/cargo"
LG=$W/cargo/release/loadgen

build() { # checkout name
  local d=$1 n=$2 inc=$1/build/include
  [ -f "$inc/greenhub.h" ] || inc=$d/include
  for p in micro/switch micro/spawn servers/gh_echo_quiet; do
    cc -O2 -std=c99 -D_GNU_SOURCE -I"$inc" -I"$d/bench/micro" "$d/bench/$p.c" \
      -o "$W/$(basename $p)-$n" -L"$d/build" -lgreenhub -Wl,-rpath,"$d/build"
  done
}

instructions() { # cmd... -> total instructions of the process
  valgrind --tool=callgrind --callgrind-out-file="$W/cg.out" "$@" >/dev/null 2>&1
  callgrind_annotate "$W/cg.out" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'
  rm -f "$W"/cg.out*
}

served() { # seconds port cmd... -> "instructions requests" of a server under one connection
  local secs=$1 port=$2; shift 2
  valgrind --tool=callgrind --callgrind-out-file="$W/cg.srv" "$@" >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 300); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  local req
  req=$("$LG" echo --port "$port" --conns 1 --seconds "$secs" --warmup 0 --json 2>/dev/null |
        tail -1 | $PY -c 'import json,sys; print(json.load(sys.stdin)["requests_all"])')
  callgrind_control -d "$pid" >/dev/null 2>&1
  sleep 1
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local total=0 f t
  for f in "$W"/cg.srv*; do
    t=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    total=$((total + t))
  done
  rm -f "$W"/cg.srv*
  echo "$total $req"
}

slope() { # short long: each "instructions count" -> per-unit difference
  echo "$1 $2" | awk '{ if ($4 == $2) printf "n/a"; else printf "%.0f", ($3 - $1) / ($4 - $2) }'
}

port=$((20000 + RANDOM % 20000))
echo_row() { # label name checkout server... (the port is appended)
  local label=$1 n=$2 d=$3; shift 3
  local s=()
  for _ in 1 2 3; do
    port=$((port + 2))
    local short long
    short=$(served 3 $port "$@" $port)
    long=$(served 9 $((port + 1)) "$@" $((port + 1)))
    s+=("$(slope "$short" "$long")")
  done
  local median
  median=$(printf '%s\n' "${s[@]}" | sort -n | sed -n 2p)
  printf "%-12s %-10s %8s instructions per request (runs: %s)\n" "$label" "$n" "$median" "${s[*]}"
}

for d in "$A" "$B"; do build "$d" "$(basename "$d")"; done
for d in "$A" "$B"; do
  n=$(basename "$d")
  a=$(instructions "$W/switch-$n" -n 100000 -r 1); b=$(instructions "$W/switch-$n" -n 300000 -r 1)
  printf "%-12s %-10s %8s instructions per iteration\n" switch "$n" "$(slope "$a 100000" "$b 300000")"
  a=$(instructions "$W/spawn-$n" -n 100000 -r 1); b=$(instructions "$W/spawn-$n" -n 300000 -r 1)
  printf "%-12s %-10s %8s instructions per thread\n" spawn "$n" "$(slope "$a 100000" "$b 300000")"
  echo_row "C echo" "$n" "$d" "$W/gh_echo_quiet-$n" -p
  PYTHONPATH=$d/bindings/python echo_row "Python echo" "$n" "$d" $PY "$d/bindings/python/examples/echo_server.py"
done
