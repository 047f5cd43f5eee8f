#!/bin/bash
# bench/ab_echo.sh REPS CONNS SECS SPEC... : servers interleaved, fresh process each, server CPU 0,
# loadgen CPU 1. SPEC: shim:DIR | patched:DIR | eventlet | gevent | uvloop | asyncio | c:DIR
# Old and new builds of greenhub side by side (a checkout per DIR, built with `make`; c:DIR
# needs `make bench`'s build/bench), with the venv and load generator of `make bench`.
# Not part of `make bench`.
# Prints: rep spec rps p50 p99 rssMB srv% errors
reps=$1; conns=$2; secs=$3; shift 3
PY=${PY:-python3}
HERE=$(cd "$(dirname "$0")" && pwd)
VPY=${VPY:-$HERE/.venv/bin/python}
LOADGEN=${LOADGEN:-$HERE/../build/bench/loadgen}
S=$HERE/servers
port=$((7200 + RANDOM % 500))
for r in $(seq $reps); do
  for spec in "$@"; do
    port=$((port+1)); kind=${spec%%:*}; d=${spec#*:}
    case $kind in
      shim) cmd=(env PYTHONPATH=$d/bindings/python $PY $d/bindings/python/examples/echo_server.py $port);;
      patched) cmd=(env PYTHONPATH=$d/bindings/python $PY $d/bindings/python/examples/echo_server_patched.py $port);;
      eventlet) cmd=(env PYTHONWARNINGS=ignore $VPY $S/eventlet_echo.py $port);;
      gevent) cmd=($VPY $S/gevent_echo.py $port);;
      uvloop) cmd=($VPY $S/asyncio_echo.py $port --uvloop);;
      asyncio) cmd=($VPY $S/asyncio_echo.py $port);;
      c) cmd=($d/build/bench/gh_echo_quiet -p $port);;
      epoll) cmd=($d/build/bench/epoll_echo $port);;
    esac
    taskset -c 0 "${cmd[@]}" > /dev/null 2>&1 &
    pid=$!
    for i in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
    spid=$(pgrep -P $pid | head -1); [ -z "$spid" ] && spid=$pid
    out=$(taskset -c 1 $LOADGEN echo --port $port --conns $conns --seconds $secs --warmup 1 --json --server-pid $spid 2>/dev/null)
    kill $pid $spid 2>/dev/null; wait $pid 2>/dev/null
    echo "$r $spec $(echo "$out" | python3 -c 'import sys,json; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print(round(d["rps"]), d["p50_us"], d["p99_us"], round((d.get("server_rss_kb") or 0)/1024,1), d.get("server_cpu_pct"), d["errors"])' 2>&1)"
  done
done
