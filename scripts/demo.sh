#!/usr/bin/env bash
# The main job, for now: keys and a strip of an example configuration with several endpoints.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x dist/src/bin/wgm.js ] || npm run --silent build
wgm=dist/src/bin/wgm.js
umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
priv=$($wgm genkey)
pub=$(printf '%s\n' "$priv" | $wgm pubkey)
echo "generated a key pair; public key: $pub"
peer=$($wgm genkey | $wgm pubkey)
cat > "$tmp/wgdemo0.conf" <<CONF
[Interface]
Address = 10.80.0.1/24, fd80::1/64
PrivateKey = $priv
ListenPort = 51820
DNS = 10.80.0.53

[Peer]
# one peer, three ways in: LAN, WAN over IPv4, WAN over IPv6
PublicKey = $peer
AllowedIPs = 10.80.0.2/32, fd80::2/128
Endpoint = 192.168.1.20:51820
Endpoint = 203.0.113.7:51820
Endpoint = [2001:db8::7]:51820
PersistentKeepalive = 25
CONF
echo "wgm strip $tmp/wgdemo0.conf:"
$wgm strip "$tmp/wgdemo0.conf"
