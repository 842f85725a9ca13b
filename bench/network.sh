#!/bin/sh
# What a bridged instance costs on the network, side by side in one run:
#   - TCP throughput between two `--net bridge` instances (busybox nc
#     carrying `dd if=/dev/zero bs=1M count=NET_MB`, timed by busybox time
#     in the sender, which ends when the receiver has it all) against the
#     same between two processes on the host's loopback;
#   - round-trip latency (busybox ping -c NET_PINGS, avg) likewise;
#   - the start time `--net bridge` adds over `--net none` (hyperfine,
#     medians: the veth pair, the lease, eth0 set up inside).
# Medians of NET_RUNS transfers and ratios; the machine is shared and noisy.
#
# The machine's own network is never touched: the whole script re-runs
# itself in a network namespace of its own (unshare -n), the "test host",
# whose bridge, veths, nft tables and addresses vanish with it. Traffic only
# goes to addresses inside it.
#
# Alone: bench/network.sh (RUNS=100 hyperfine runs, NET_RUNS=5 transfers of
# NET_MB=200 MiB, NET_PINGS=20). Under bench/run-all.sh the results go to
# $WORK/results/netstart/ (hyperfine) and $WORK/results/network/ (figures).
set -eu
if [ -z "${MULT_BENCH_NETNS:-}" ]; then
  # Installed out here: the test host has no way out.
  command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null
  command -v busybox >/dev/null || apt-get install -y -qq busybox-static >/dev/null
  exec unshare -n env MULT_BENCH_NETNS=1 sh "$0" "$@"
fi
ip link set lo up
NET_RUNS=${NET_RUNS:-5}
NET_MB=${NET_MB:-200}
NET_PINGS=${NET_PINGS:-20}
. "$(dirname "$0")/lib.sh"

A=bench-net-a-$$
B=bench-net-b-$$
HOLD=$WORK/net-hold-$$
net_cleanup() {
  $MULT rm -f "$A" "$B" >/dev/null 2>&1 || true
  rm -f "$HOLD"
  [ "$OWN_WORK" = 1 ] && cleanup_work
  return 0
}
trap net_cleanup EXIT
echo "network: $NET_RUNS transfers of $NET_MB MiB, $NET_PINGS pings, $RUNS start runs each" >&2

# listening ADDR-KIND PORT: a "cat /proc/net/tcp /proc/net/tcp6" on stdin
# lists a listener on PORT.
listening() {
  awk -v p="$(printf ':%04X' "$1")" 'substr($2, length($2) - 4) == p && $4 == "0A" {f = 1} END {exit !f}'
}
wait_listening() {  # wait_listening PORT CMD...   (CMD prints /proc/net/tcp*)
  _port=$1; shift
  _i=0
  until "$@" 2>/dev/null | listening "$_port"; do
    _i=$((_i + 1))
    [ "$_i" -lt 200 ] || { echo "nothing listens on $_port" >&2; exit 1; }
    sleep 0.05
  done
}
median() { sort -n | awk '{v[NR] = $1} END {if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }

# ---- two bridged instances ---------------------------------------------------
# The receiver's stdin is a FIFO it holds open itself: busybox nc stops at
# the end of its stdin, and this one never ends nor says anything.
$MULT run -d --name "$A" --net bridge --tmpfs /tmp --rootfs "$ROOTFS" -- sh -c \
  'mkfifo /tmp/hold; exec 3<>/tmp/hold; while :; do nc -l -p 5001 <&3 >/dev/null; done' >/dev/null
$MULT run -d --name "$B" --net bridge --rootfs "$ROOTFS" -- sleep 100000 >/dev/null
ADDR_A=$($MULT exec "$A" -- ip -4 -o addr show eth0 | sed -n 's/.* inet \([0-9.]*\)\/.*/\1/p')
[ -n "$ADDR_A" ] || { echo "no address for $A" >&2; exit 1; }

bridge_times=
for _ in $(seq "$NET_RUNS"); do
  wait_listening 5001 $MULT exec "$A" -- cat /proc/net/tcp /proc/net/tcp6
  t=$($MULT exec "$B" -- time -f %e sh -c \
    "dd if=/dev/zero bs=1M count=$NET_MB 2>/dev/null | nc $ADDR_A 5001" 2>&1 | tail -n 1)
  bridge_times="$bridge_times $t"
done
bridge_rtt=$($MULT exec "$B" -- ping -q -c "$NET_PINGS" -i 0.1 "$ADDR_A" | awk -F/ '/round-trip/ {print $4}')

# ---- two processes on the host's loopback --------------------------------------
mkfifo "$HOLD"
loop_times=
for _ in $(seq "$NET_RUNS"); do
  # The FIFO opened read-write: never an end, never a byte.
  busybox nc -l -p 6001 <>"$HOLD" >/dev/null &
  wait_listening 6001 cat /proc/net/tcp /proc/net/tcp6
  t=$(busybox time -f %e sh -c "dd if=/dev/zero bs=1M count=$NET_MB 2>/dev/null | busybox nc 127.0.0.1 6001" 2>&1 |
    tail -n 1)
  wait
  loop_times="$loop_times $t"
done
loop_rtt=$(busybox ping -q -c "$NET_PINGS" -i 0.1 127.0.0.1 | awk -F/ '/round-trip/ {print $4}')

bridge_s=$(echo $bridge_times | tr ' ' '\n' | median)
loop_s=$(echo $loop_times | tr ' ' '\n' | median)
mkdir -p "$RES/network"
python3 - "$RES/network/figures.json" "$NET_MB" "$bridge_s" "$loop_s" "$bridge_rtt" "$loop_rtt" \
  "$bridge_times" "$loop_times" <<'PY'
import json, sys
out, mb, bs, ls, brtt, lrtt, btimes, ltimes = sys.argv[1:]
mb, bs, ls = int(mb), float(bs), float(ls)
d = {"mib": mb, "bridge_s": bs, "loopback_s": ls,
     "bridge_mib_s": mb / bs if bs else None, "loopback_mib_s": mb / ls if ls else None,
     "bridge_rtt_ms": float(brtt) if brtt else None, "loopback_rtt_ms": float(lrtt) if lrtt else None,
     "bridge_times_s": [float(x) for x in btimes.split()], "loopback_times_s": [float(x) for x in ltimes.split()]}
json.dump(d, open(out, "w"), indent=1)
PY

# ---- start time: --net bridge over --net none ------------------------------------
S=netstart
measure $S none "$MULT run --rootfs $ROOTFS --net none -- /bin/true"
measure $S bridge "$MULT run --rootfs $ROOTFS --net bridge -- /bin/true"
table $S none,bridge none

python3 - "$RES" <<'PY'
import json, os, sys
res = sys.argv[1]
d = json.load(open(os.path.join(res, "network", "figures.json")))
def med(name):
    p = os.path.join(res, "netstart", name + ".json")
    return json.load(open(p))["results"][0]["median"] * 1000 if os.path.exists(p) else None
def r(a, b):
    return f"{a / b:.2f}" if a is not None and b else "n/a"
def f(v, spec):
    return format(v, spec) if v is not None else "n/a"
print()
print(f"{'':<26} {'bridge':>10} {'loopback':>10} {'ratio':>7}")
print(f"{'TCP MiB/s (' + str(d['mib']) + ' MiB, median)':<26} {f(d['bridge_mib_s'], '10.0f')} "
      f"{f(d['loopback_mib_s'], '10.0f')} {r(d['bridge_mib_s'], d['loopback_mib_s']):>7}")
print(f"{'ping avg ms':<26} {f(d['bridge_rtt_ms'], '10.3f')} {f(d['loopback_rtt_ms'], '10.3f')} "
      f"{r(d['bridge_rtt_ms'], d['loopback_rtt_ms']):>7}")
none, bridge = med("none"), med("bridge")
extra = f"{bridge - none:.2f} ms" if none is not None and bridge is not None else "n/a"
print(f"start: --net bridge {f(bridge, '.2f')} ms, --net none {f(none, '.2f')} ms: "
      f"x{r(bridge, none)}, +{extra}")
PY
