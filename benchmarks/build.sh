#!/usr/bin/env bash
# Clean build of the compiled core: configure + build of the extension from scratch into a
# temporary directory (CMake, Ninja, Release, as the wheel build does), printing the wall time of
# each step and the 10 slowest translation units from .ninja_log; with --wheel also a clean
# `pip wheel --no-deps .` (the build a user's `pip install .` runs; it needs network access or a
# warm pip cache for the build requirements).
#
# Usage: benchmarks/build.sh [--wheel] [--jobs N]     (run from anywhere; PYTHON= picks the python
#        that has pybind11 and Eigen (cmeel-eigen) installed, default `python`)
# Measure on an idle machine when comparing with a target (the compile is CPU-bound: another
# process on the cores stretches every unit); say so when it was not.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python}"
JOBS="$(nproc)"
WHEEL=0
while [ $# -gt 0 ]; do
  case "$1" in
    --wheel) WHEEL=1 ;;
    --jobs) JOBS="$2"; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

TMP="$(mktemp -d "${TMPDIR:-/tmp}/statmech_nn_build.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%7.1f", (b - a) / 1e9 }'; }
load() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?"; }

echo "# $(nproc) cores, load average $(load); jobs=$JOBS; build dir $TMP"
t0=$(now)
cmake -S "$ROOT" -B "$TMP/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DPython_EXECUTABLE="$(command -v "$PYTHON")" >"$TMP/configure.log" 2>&1 \
  || { cat "$TMP/configure.log"; exit 1; }
t1=$(now)
cmake --build "$TMP/build" -j "$JOBS" >"$TMP/build.log" 2>&1 || { tail -50 "$TMP/build.log"; exit 1; }
t2=$(now)
echo "configure $(secs "$t0" "$t1") s"
echo "build     $(secs "$t1" "$t2") s"
echo "total     $(secs "$t0" "$t2") s"

echo "# 10 slowest translation units (wall seconds each, from .ninja_log; with -j $JOBS they overlap)"
"$PYTHON" - "$TMP/build/.ninja_log" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    if line.startswith("#"):
        continue
    start, end, _, out, *_ = line.rstrip("\n").split("\t")
    rows[out] = (int(end) - int(start)) / 1000.0     # the last entry of an output wins
units = sorted(((t, o) for o, t in rows.items() if o.endswith(".o")), reverse=True)
for t, o in units[:10]:
    print(f"{t:8.1f}  {o.split('.dir/', 1)[-1]}")
print(f"{sum(t for t, _ in units):8.1f}  (all {len(units)} units, summed)")
PY

if [ "$WHEEL" = 1 ]; then
  echo "# pip wheel --no-deps . (clean copy of the sources, isolated build environment)"
  mkdir -p "$TMP/src"
  (cd "$ROOT" && git ls-files -z | xargs -0 -I{} cp --parents {} "$TMP/src/") 2>/dev/null \
    || cp -r "$ROOT/." "$TMP/src/"
  rm -rf "$TMP/src/build" "$TMP/src/python/statmech_nn/"_core*.so
  t3=$(now)
  "$PYTHON" -m pip wheel --no-deps -w "$TMP/wheel" "$TMP/src" >"$TMP/wheel.log" 2>&1 \
    || { tail -30 "$TMP/wheel.log"; exit 1; }
  t4=$(now)
  echo "pip wheel $(secs "$t3" "$t4") s  ($(ls "$TMP/wheel"))"
fi
