#!/usr/bin/env bash
# `npm run demo`: wgm on this machine, told as a short story with the timings of this run.
#
#  Without root: keys, and `wgm strip` of a config whose peer has three Endpoint lines.
#  As root, live (needs only node and iproute2):
#   1. two network namespaces joined by three paths: an IPv4 veth (the "LAN"), an IPv6 veth,
#      and a third veth reached through a userspace relay that adds delay (the kernel may have
#      no netem qdisc, so the delay is a process: test/lib/relay-main.ts);
#   2. side A: a config with three Endpoint lines, brought up with `wgm up FILE`; side B: a
#      config stock wg-quick accepts too (no Endpoint: B learns A's address from its
#      handshakes), brought up with `wgm up FILE` as well;
#   3. traffic through the tunnel (a UDP prober, scripts/demo-probe.mjs), and `wgm show`;
#   4. the active path cut (its veth set down), and the time until replies come back;
#   5. `wgm show` again; 6. `wgm down` on both sides, then a check that nothing is left:
#      no namespace, link, engine or other process, UAPI socket, state record or temp file.
#  The same cleanup runs when the demo fails midway or is interrupted (Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
if [ ! -f dist/src/bin/wgm.js ] || [ ! -f dist/test/lib/relay-main.js ]; then
  npm run --silent build
fi
wgm() { node "$root/dist/src/bin/wgm.js" "$@"; }
probe="$root/scripts/demo-probe.mjs"
relay="$root/dist/test/lib/relay-main.js"
umask 077

id=$$
A=wgmdemo-a-$id
B=wgmdemo-b-$id
IFA=wgmda$id
IFB=wgmdb$id
IFA=${IFA:0:15}
IFB=${IFB:0:15}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/wgm-demo.XXXXXX")
live=
pids=()
cut_timeout=60

now_ms() { echo $(($(date +%s%N) / 1000000)); }
start=$(now_ms)
step() { printf '\n== %s\n' "$*"; }
say() { printf '%s\n' "$*"; }
indent() { sed -u 's/^/    /'; }
since() { awk -v d="$(($(now_ms) - $1))" 'BEGIN { printf "%.1f s", d / 1000 }'; }
in_a() { ip netns exec "$A" "$@"; }
in_b() { ip netns exec "$B" "$@"; }

leftovers() {
  local left=()
  ip netns list 2>/dev/null | grep -qE "^($A|$B)( |$)" && left+=("namespace")
  ip -o link show 2>/dev/null | grep -qE ": ($IFA|$IFB|wd[lvr][ab]$id)[:@]" && left+=("link")
  for f in "/var/run/wireguard/$IFA.sock" "/var/run/wireguard/$IFB.sock" \
    "/run/wgm/$IFA.json" "/run/wgm/$IFB.json" "$tmp"; do
    [ -e "$f" ] && left+=("$f")
  done
  for p in "${pids[@]}"; do
    kill -0 "$p" 2>/dev/null && left+=("process $p")
  done
  # No pgrep: procps may be missing on a minimal system.
  for c in /proc/[0-9]*/cmdline; do
    { tr '\0' ' ' <"$c"; } 2>/dev/null | grep -qE "wgm-engine\.js (-f )?($IFA|$IFB) ?\$" &&
      left+=("wgm-engine process ${c//[^0-9]/}")
  done
  if [ ${#left[@]} -eq 0 ]; then
    say "nothing left behind: no namespace, link, engine or relay process, UAPI socket, state record or temp file"
  else
    say "LEFT BEHIND: ${left[*]}"
    return 1
  fi
}

cleanup() {
  local status=$?
  set +e
  trap - EXIT INT TERM
  if [ -n "$live" ]; then
    # After a failure or an interruption the interfaces may still be up: take them down the
    # way a user would, then stop whatever still runs in the namespaces and delete them.
    for side in "$A:$IFA" "$B:$IFB"; do
      ns=${side%%:*}
      ifname=${side#*:}
      if ip -n "$ns" link show "$ifname" >/dev/null 2>&1 || [ -e "/run/wgm/$ifname.json" ]; then
        say "(cleanup) wgm down $ifname"
        ip netns exec "$ns" node "$root/dist/src/bin/wgm.js" down "$tmp/$ifname.conf" 2>&1 | indent
      fi
    done
    for ns in "$A" "$B"; do
      for p in $(ip netns pids "$ns" 2>/dev/null); do pids+=("$p"); done
    done
    [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null
    for _ in $(seq 1 30); do
      alive=
      for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
      [ -z "$alive" ] && break
      sleep 0.1
    done
    [ -n "$alive" ] && kill -KILL "${pids[@]}" 2>/dev/null
    ip netns del "$A" 2>/dev/null
    ip netns del "$B" 2>/dev/null
    rm -f "/var/run/wireguard/$IFA.sock" "/var/run/wireguard/$IFB.sock" \
      "/run/wgm/$IFA.json" "/run/wgm/$IFB.json"
  fi
  rm -rf "$tmp"
  if [ -n "$live" ]; then
    step "after: what is left behind"
    leftovers || [ "$status" -ne 0 ] || status=1
  fi
  [ "$status" -ne 0 ] && say "(the demo failed or was interrupted, exit status $status; cleaned up)"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "keys: wgm genkey | wgm pubkey"
priv_a=$(wgm genkey)
pub_a=$(printf '%s\n' "$priv_a" | wgm pubkey)
priv_b=$(wgm genkey)
pub_b=$(printf '%s\n' "$priv_b" | wgm pubkey)
say "side A public key: $pub_a"
say "side B public key: $pub_b"

cat >"$tmp/$IFA.conf" <<CONF
[Interface]
# side A: wgm, with three ways to reach side B
PrivateKey = $priv_a
ListenPort = 51820
Address = 10.77.0.1/24

[Peer]
# side B, in order of preference: the LAN (IPv4), an IPv6 path, and a slow
# path through a relay (30 ms each way)
PublicKey = $pub_b
AllowedIPs = 10.77.0.2/32
Endpoint = 10.201.0.2:51820
Endpoint = [fd00:202::2]:51820
Endpoint = 10.203.0.2:51999
CONF
cat >"$tmp/$IFB.conf" <<CONF
[Interface]
# side B: a config stock wg-quick accepts too; no Endpoint, so B answers A
# wherever A's handshakes come from
PrivateKey = $priv_b
ListenPort = 51820
Address = 10.77.0.2/24

[Peer]
PublicKey = $pub_a
AllowedIPs = 10.77.0.1/32
CONF

step "wgm strip $IFA.conf   (what wg-quick strip prints, with every Endpoint line kept)"
wgm strip "$tmp/$IFA.conf" | grep -v '^PrivateKey' | indent
say "    (PrivateKey line hidden here)"

missing=
[ "$(id -u)" -eq 0 ] || missing="root (network namespaces and TUN devices): run it as root, e.g. sudo npm run demo"
if [ -z "$missing" ] && ! command -v ip >/dev/null; then
  if command -v apt-get >/dev/null; then
    say "installing iproute2 (the ip command), which the live part needs:"
    apt-get install -y --no-install-recommends iproute2 2>&1 | tail -n 1 | indent
  fi
  command -v ip >/dev/null || missing="the ip command (iproute2)"
fi
[ -z "$missing" ] && [ ! -c /dev/net/tun ] && missing="/dev/net/tun (TUN devices)"
if [ -n "$missing" ]; then
  step "skipped: the live part (namespaces, wgm up, a path cut, wgm down)"
  say "it needs $missing"
  exit 0
fi

step "1. two namespaces, $A and $B, joined by three paths"
live=1
ip netns add "$A"
ip netns add "$B"
ip -n "$A" link set lo up
ip -n "$B" link set lo up
ip link add "wdla$id" netns "$A" type veth peer name "wdlb$id" netns "$B"
ip link add "wdva$id" netns "$A" type veth peer name "wdvb$id" netns "$B"
ip link add "wdra$id" netns "$A" type veth peer name "wdrb$id" netns "$B"
ip -n "$A" addr add 10.201.0.1/24 dev "wdla$id"
ip -n "$B" addr add 10.201.0.2/24 dev "wdlb$id"
ip -n "$A" addr add fd00:202::1/64 dev "wdva$id" nodad
ip -n "$B" addr add fd00:202::2/64 dev "wdvb$id" nodad
ip -n "$A" addr add 10.203.0.1/24 dev "wdra$id"
ip -n "$B" addr add 10.203.0.2/24 dev "wdrb$id"
for l in la va ra; do ip -n "$A" link set "wd$l$id" up; done
for l in lb vb rb; do ip -n "$B" link set "wd$l$id" up; done
in_b node "$relay" --listen 10.203.0.2:51999 --target 127.0.0.1:51820 \
  --fwd delay=30 --rev delay=30 </dev/null >"$tmp/relay.out" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  grep -q '^ready' "$tmp/relay.out" && break
  sleep 0.1
done
grep -q '^ready' "$tmp/relay.out" || { cat "$tmp/relay.out"; say "the relay did not start"; exit 1; }
say "    LAN    10.201.0.1 <-> 10.201.0.2       IPv4 veth ($IFA's first Endpoint)"
say "    IPv6   fd00:202::1 <-> fd00:202::2     IPv6 veth (the second)"
say "    relay  10.203.0.1 <-> 10.203.0.2:51999  a third veth into a relay process in B that"
say "           adds 30 ms each way (the kernel may have no netem qdisc) (the third)"

step "2. wgm up on both sides (configs in $tmp, mode 0600)"
say "side A: ip netns exec $A wgm up $tmp/$IFA.conf"
t=$(now_ms)
in_a node "$root/dist/src/bin/wgm.js" up "$tmp/$IFA.conf" 2>&1 | indent
say "    (took $(since "$t"))"
say "side B: ip netns exec $B wgm up $tmp/$IFB.conf"
t=$(now_ms)
in_b node "$root/dist/src/bin/wgm.js" up "$tmp/$IFB.conf" 2>&1 | indent
say "    (took $(since "$t"))"
ip -n "$A" link show "$IFA" >/dev/null && ip -n "$B" link show "$IFB" >/dev/null

step "3. traffic: UDP probes from A to B's tunnel address 10.77.0.2, every 100 ms"
in_b node "$probe" echo 7777 </dev/null >"$tmp/echo.out" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do
  grep -q listening "$tmp/echo.out" && break
  sleep 0.1
done
in_a node "$probe" first 10.77.0.2:7777 --timeout 30 | tee "$tmp/first.out" | indent
say "wgm show $IFA:"
in_a node "$root/dist/src/bin/wgm.js" show "$IFA" | indent

active=$(in_a node "$root/dist/src/bin/wgm.js" show "$IFA" endpoints | awk '{ print $2 }')
case "$active" in
10.201.0.2:*) cut_dev=wdlb$id path="the LAN" ;;
\[fd00:202::2\]:*) cut_dev=wdvb$id path="the IPv6 path" ;;
10.203.0.2:*) cut_dev=wdrb$id path="the relay's path" ;;
*)
  say "no active endpoint to cut ($active)"
  exit 1
  ;;
esac

step "4. cutting the active path, $path ($active), at B's end: ip -n $B link set $cut_dev down"
say "(wgm-engine suspects the path when the data it sends gets no answer, races handshakes over"
say " the other candidates and moves to the first that answers: expect a second or two;"
say " stock WireGuard never changes endpoint by itself; waiting at most $cut_timeout s)"
cut_ok=1
in_a node "$probe" cut 10.77.0.2:7777 --timeout "$cut_timeout" -- ip -n "$B" link set "$cut_dev" down |
  tee "$tmp/cut.out" | indent || cut_ok=

step "5. wgm show $IFA after the cut"
in_a node "$root/dist/src/bin/wgm.js" show "$IFA" | indent
now_active=$(in_a node "$root/dist/src/bin/wgm.js" show "$IFA" endpoints | awk '{ print $2 }')
say "B's view (wgm show $IFB endpoints): $(in_b node "$root/dist/src/bin/wgm.js" show "$IFB" endpoints | awk '{ print $2 }')"

step "6. wgm down on both sides"
say "side A: wgm down $tmp/$IFA.conf"
in_a node "$root/dist/src/bin/wgm.js" down "$tmp/$IFA.conf" 2>&1 | indent
say "side B: wgm down $tmp/$IFB.conf"
in_b node "$root/dist/src/bin/wgm.js" down "$tmp/$IFB.conf" 2>&1 | indent
step "in short"
say "tunnel up: $(sed 's/ (.*//' "$tmp/first.out")"
if [ -n "$cut_ok" ]; then
  say "path cut: $(grep -o 'traffic flows again [0-9.]* s after the cut' "$tmp/cut.out"), now via $now_active (was $active)"
else
  say "path cut: no reply within $cut_timeout s of the cut; the active endpoint is $now_active"
fi
say "demo took $(since "$start")"
if [ -z "$cut_ok" ]; then
  say "traffic did not come back within $cut_timeout s of the cut"
  exit 1
fi
