#!/usr/bin/env bash
# The main job: wgm on this machine.
#  1. keys and a strip of a config whose peer has several Endpoint lines (no root needed);
#  2. as root, live: two network namespaces joined by a veth pair; on one side wgm-engine,
#     configured with `wgm setconf` from a file whose peer has three candidate endpoints
#     (two of them dead), on the other a stock wireguard-go configured with stock `wg`.
#     wgm-engine tries the candidates, the tunnel comes up, ping crosses it, and `wgm show`
#     tells which candidate carries the traffic.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x dist/src/bin/wgm.js ] || npm run --silent build
root=$PWD
wgm="$root/dist/src/bin/wgm.js"
engine="$root/dist/src/bin/wgm-engine.js"
umask 077
tmp=$(mktemp -d)
A=wgmdemo-a-$$
B=wgmdemo-b-$$
IFA=wgmdemoa$$
IFB=wgmdemob$$
IFA=${IFA:0:15}
IFB=${IFB:0:15}
cleanup() {
  set +e
  ip netns pids "$A" 2>/dev/null | xargs -r kill 2>/dev/null
  ip netns pids "$B" 2>/dev/null | xargs -r kill 2>/dev/null
  sleep 0.3
  ip netns del "$A" 2>/dev/null
  ip netns del "$B" 2>/dev/null
  rm -f "/var/run/wireguard/$IFA.sock" "/var/run/wireguard/$IFB.sock"
  rm -rf "$tmp"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

step "keys: wgm genkey | wgm pubkey"
priv_a=$($wgm genkey)
pub_a=$(printf '%s\n' "$priv_a" | $wgm pubkey)
priv_b=$($wgm genkey)
pub_b=$(printf '%s\n' "$priv_b" | $wgm pubkey)
echo "side A public key: $pub_a"
echo "side B public key: $pub_b"
[ "$(printf '%s\n' "$priv_a" | $wgm pubkey)" = "$pub_a" ]

cat > "$tmp/$IFA.conf" <<CONF
[Interface]
Address = 10.99.0.1/24, fd99::1/64
PrivateKey = $priv_a
ListenPort = 51821

[Peer]
# side B, three ways in, in order of preference: a LAN address that is down,
# an IPv6 address nobody answers on, and the address that works
PublicKey = $pub_b
AllowedIPs = 10.99.0.2/32, fd99::2/128
Endpoint = 192.0.2.200:51822
Endpoint = [fd98::99]:51822
Endpoint = 10.98.0.2:51822
CONF

step "wgm strip $tmp/$IFA.conf   (what wg-quick strip prints: every Endpoint line kept)"
$wgm strip "$tmp/$IFA.conf"

if [ "$(id -u)" -ne 0 ] || ! command -v wireguard-go >/dev/null || ! command -v wg >/dev/null; then
  echo
  echo "(the live part needs root, wireguard-go and wg: skipped)"
  exit 0
fi

step "two namespaces joined by a veth pair: $A (wgm-engine) and $B (stock wireguard-go)"
ip netns add "$A"
ip netns add "$B"
ip -n "$A" link set lo up
ip -n "$B" link set lo up
ip link add veth-a$$ netns "$A" type veth peer name veth-b$$ netns "$B"
ip -n "$A" addr add 10.98.0.1/24 dev veth-a$$
ip -n "$B" addr add 10.98.0.2/24 dev veth-b$$
ip -n "$A" -6 addr add fd98::1/64 dev veth-a$$ nodad
ip -n "$B" -6 addr add fd98::2/64 dev veth-b$$ nodad
ip -n "$A" link set veth-a$$ up
ip -n "$B" link set veth-b$$ up
ip -n "$A" route add 192.0.2.0/24 dev veth-a$$

step "side B: wireguard-go $IFB, configured with the stock wg"
ip netns exec "$B" wireguard-go "$IFB" 2>/dev/null
printf '%s\n' "$priv_b" > "$tmp/b.key"
ip netns exec "$B" wg set "$IFB" listen-port 51822 private-key "$tmp/b.key" peer "$pub_a" allowed-ips 10.99.0.1/32,fd99::1/128
ip -n "$B" addr add 10.99.0.2/24 dev "$IFB"
ip -n "$B" -6 addr add fd99::2/64 dev "$IFB" nodad
ip -n "$B" link set "$IFB" up

step "side A: wgm-engine $IFA; wgm probe says what it can hold"
ip netns exec "$A" "$engine" "$IFA"
$wgm probe "$IFA"

step "wgm setconf $IFA <(wgm strip ...): all three endpoints go to the engine"
ip netns exec "$A" bash -c "'$wgm' setconf '$IFA' <('$wgm' strip '$tmp/$IFA.conf')"
ip -n "$A" addr add 10.99.0.1/24 dev "$IFA"
ip -n "$A" -6 addr add fd99::1/64 dev "$IFA" nodad
ip -n "$A" link set "$IFA" up

step "ping B through the tunnel (wgm-engine works through its candidates until one answers)"
ok=
for _ in $(seq 1 30); do
  if ip netns exec "$A" ping -c1 -W1 10.99.0.2 >/dev/null 2>&1; then ok=1; break; fi
done
[ -n "$ok" ] || { echo "the tunnel did not come up"; $wgm show "$IFA"; exit 1; }
ip netns exec "$A" ping -c3 -i0.2 10.99.0.2
ip netns exec "$A" ping -c3 -i0.2 fd99::2

step "wgm show $IFA   (every candidate with its state)"
$wgm show "$IFA"
step "wgm show $IFA endpoints   (wg's one column: the active endpoint)"
$wgm show "$IFA" endpoints
step "stock wg show $IFB on side B"
WG_HIDE_KEYS=always wg show "$IFB"
