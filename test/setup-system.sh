#!/usr/bin/env bash
# Installs the system packages the tests use as oracles and harnesses, when running as root and
# they are missing (with --no-install-recommends: only what is named here and its dependencies).
# It says what it installs and what it leaves alone and why. Without root, it says what is
# missing; the tests that need it then skip, naming the reason.
set -u

# command → Debian package
declare -A NEED=(
  [wg]=wireguard-tools
  [wg-quick]=wireguard-tools
  [wireguard-go]=wireguard-go
  [iperf3]=iperf3
  [ping]=iputils-ping
  [ncat]=ncat
  [iptables]=iptables
  [qemu-system-x86_64]=qemu-system-x86
  [busybox]=busybox-static # only when there is no busybox at all; a dynamic one does too
  [groff]=groff-base
  [man]=man-db
  [zsh]=zsh
  [fish]=fish
  [xz]=xz-utils
  [cpio]=cpio
)

missing=()
for cmd in "${!NEED[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${NEED[$cmd]}")
done
# libsodium: wgm-engine's ChaCha20-Poly1305 and handshake X25519 prefer it and fall back to
# OpenSSL/node:crypto without it; installing it lets the tests cover the path users with it get.
if ! ldconfig -p 2>/dev/null | grep -q 'libsodium\.so\.23 '; then
  missing+=(libsodium23)
fi
# The VM harness needs a Debian 6.12 kernel with wireguard.ko (see the header of
# test/vm/run-in-vm.sh).
if ! ls /lib/modules/6.12.*/kernel/drivers/net/wireguard/wireguard.ko* >/dev/null 2>&1; then
  missing+=(linux-image-6.12-amd64)
fi

# The VM harness (test/vm/run-in-vm.sh) builds its initramfs from the host's busybox, static or
# dynamic; busybox-static would replace the `busybox' package that initramfs-tools recommends.
if bb=$(command -v busybox) && LC_ALL=C ldd "$bb" >/dev/null 2>&1; then
  echo "test setup: $bb is dynamically linked; the VM harness copies its libraries into the" \
    "initramfs, so busybox-static is not installed" >&2
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
if [ "$(id -u)" -ne 0 ]; then
  echo "test setup: not root, so not installing: ${missing[*]} (tests that need them will skip)" >&2
  exit 0
fi
echo "test setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >/tmp/wgm-apt.log 2>&1; then
  echo "test setup: apt-get failed (log in /tmp/wgm-apt.log):" >&2
  tail -20 /tmp/wgm-apt.log >&2
  exit 1
fi
