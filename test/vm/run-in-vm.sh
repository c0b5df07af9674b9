#!/bin/bash
# run-in-vm.sh <command...> — runs a shell command in a throwaway QEMU VM with a Debian kernel
# that has wireguard.ko (the host kernel has none), with the host's / shared read-only
# (writes go to a tmpfs overlay and are thrown away) and the host's working directory.
#
# Like ssh, the arguments are joined with spaces and run by `bash -c` in the guest.
# The command's stdout and stderr come back separately (not ttys); the exit status is the
# command's own, or 125 when the VM could not run it (no kernel, boot failure, timeout).
#
# Knobs (environment):
#   VM_TIMEOUT   seconds for the whole VM run, default 300
#   VM_MEM       guest memory in MiB, default 1024
#   VM_CPUS      guest CPUs, default 2
#   VM_KVER      kernel version to boot (default: the newest /boot/vmlinuz-V with wireguard + 9p)
#   VM_CACHE     initramfs cache directory, default /var/cache/wgm-vm
#   VM_BUSYBOX   the busybox binary for the initramfs, static or dynamic (default: the host's)
#   VM_KVM=1     use KVM instead of TCG (broken on some hosts, so opt-in)
#   VM_DEBUG=1   print the guest console to stderr afterwards
#   VM_ENV       extra variable names to pass to the guest (PATH, HOME, LANG, LC_ALL, TZ, CI,
#                NODE_OPTIONS and WGM_* / WG_* variables always pass)
# How: QEMU (TCG; KVM is opt-in) boots the Debian kernel with a busybox initramfs that mounts
# the host root over virtio-9p (read-only, tmpfs overlay) and a per-run 9p share, then
# switch_root runs stage2.sh, which talks back over two virtio-serial ports.
# The guest kernel needs wireguard, 9p, 9pnet_virtio, netfs and overlay as modules: Debian's
# standard or rt 6.12 images (linux-image-6.12-amd64) have them; the -cloud images lack
# CONFIG_9P_FS and cannot boot this way.
set -u

VM_FAIL=125
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
timeout_s=${VM_TIMEOUT:-300}
mem=${VM_MEM:-1024}
cpus=${VM_CPUS:-2}
cache=${VM_CACHE:-/var/cache/wgm-vm}

die() {
  echo "run-in-vm: $*" >&2
  exit "$VM_FAIL"
}

[ $# -gt 0 ] || die 'usage: run-in-vm.sh <command...>'
command -v qemu-system-x86_64 >/dev/null || die 'qemu-system-x86_64 is not installed (Debian: qemu-system-x86)'

# The initramfs's shell and tools: a busybox, static (busybox-static) or dynamic (busybox, the
# one initramfs-tools pulls in on most Debian hosts). A dynamic one gets the shared libraries
# and the loader that ldd names copied in beside it, at the same paths.
busybox=${VM_BUSYBOX:-}
if [ -z "$busybox" ]; then
  for b in /bin/busybox /usr/bin/busybox "$(command -v busybox)"; do
    if [ -x "$b" ]; then
      busybox=$b
      break
    fi
  done
fi
[ -n "$busybox" ] || die 'busybox is needed to build the initramfs (Debian: busybox or busybox-static)'
[ -x "$busybox" ] || die "VM_BUSYBOX=$busybox is not an executable file"
# The libraries of a dynamic busybox, one path a line; nothing for a static one. ldd prints
# "name => /path (addr)" for a library and "/path (addr)" for the loader; a static binary makes
# it say "not a dynamic executable" and fail.
busybox_libs() {
  local out
  out=$(LC_ALL=C ldd "$busybox" 2>&1) || return 0
  printf '%s\n' "$out" | sed -n -e 's/^.*=> \(\/[^ ]*\) (0x[0-9a-f]*)$/\1/p' \
    -e 's/^[[:space:]]*\(\/[^ ]*\) (0x[0-9a-f]*)$/\1/p'
}
mapfile -t busybox_libs < <(busybox_libs)
if LC_ALL=C ldd "$busybox" >/dev/null 2>&1 && [ ${#busybox_libs[@]} -eq 0 ]; then
  die "cannot tell which libraries $busybox needs (ldd printed nothing usable)"
fi

mod_path() { # KVER NAME -> path of NAME.ko* below /lib/modules/KVER, or nothing
  find "/lib/modules/$1/kernel" \( -name "$2.ko" -o -name "$2.ko.xz" -o -name "$2.ko.zst" -o -name "$2.ko.gz" \) \
    -print -quit 2>/dev/null
}
usable_kernel() {
  [ -r "/boot/vmlinuz-$1" ] && [ -n "$(mod_path "$1" wireguard)" ] && [ -n "$(mod_path "$1" 9p)" ] &&
    [ -n "$(mod_path "$1" 9pnet_virtio)" ] && [ -n "$(mod_path "$1" overlay)" ]
}
kver=${VM_KVER:-}
if [ -z "$kver" ]; then
  while read -r v; do
    if usable_kernel "$v"; then kver=$v; fi
  done < <(find /boot -maxdepth 1 -name 'vmlinuz-*' -printf '%f\n' | sed 's/^vmlinuz-//' | sort -V)
fi
[ -n "$kver" ] && usable_kernel "$kver" ||
  die "no kernel with wireguard and 9p modules in /boot${kver:+ (VM_KVER=$kver)} (Debian: linux-image-6.12-amd64)"

modules=(netfs 9pnet 9pnet_virtio 9p overlay)

# The initramfs, built once per kernel/busybox/init script and cached.
build_initrd() {
  local key stage m src
  key=$({
    echo "$kver"
    sha256sum "$here/initramfs-init.sh" "$busybox" "${busybox_libs[@]}"
    for m in "${modules[@]}"; do stat -c '%n %s %Y' "$(mod_path "$kver" "$m")"; done
  } | sha256sum | cut -c1-16)
  initrd="$cache/initrd-$kver-$key.cpio.gz"
  [ -s "$initrd" ] && return 0
  mkdir -p "$cache" || die "cannot create $cache"
  exec 9>"$cache/.lock"
  flock 9
  if [ ! -s "$initrd" ]; then
    stage=$(mktemp -d) || die 'mktemp failed'
    mkdir -p "$stage/bin" "$stage/lib/wgm-vm"
    cp "$busybox" "$stage/bin/busybox"
    for m in "${busybox_libs[@]}"; do
      mkdir -p "$stage${m%/*}" && cp -L "$m" "$stage$m" || {
        rm -rf "$stage"
        die "cannot copy $m (a library of $busybox)"
      }
    done
    install -m 0755 "$here/initramfs-init.sh" "$stage/init"
    for m in "${modules[@]}"; do
      src=$(mod_path "$kver" "$m")
      case "$src" in
      *.xz) xz -dc "$src" ;;
      *.zst) zstd -qdc "$src" ;;
      *.gz) gzip -dc "$src" ;;
      *) cat "$src" ;;
      esac >"$stage/lib/wgm-vm/$m.ko" || {
        rm -rf "$stage"
        die "cannot unpack $src"
      }
    done
    (cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) >"$initrd.tmp.$$" &&
      mv "$initrd.tmp.$$" "$initrd"
    rm -rf "$stage" "$initrd.tmp.$$"
  fi
  flock -u 9
  exec 9>&-
  [ -s "$initrd" ] || die "building $initrd failed"
}
build_initrd

run=$(mktemp -d "${TMPDIR:-/tmp}/wgm-vm.XXXXXX") || die 'mktemp failed'
qemu_pid=
cleanup() {
  if [ -n "$qemu_pid" ]; then
    kill -TERM "$qemu_pid" 2>/dev/null
    wait "$qemu_pid" 2>/dev/null
  fi
  rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cp "$here/stage2.sh" "$run/stage2"
printf '%s' "$*" >"$run/cmd"
pwd >"$run/cwd"
{
  for name in PATH HOME LANG LC_ALL TZ CI NODE_OPTIONS ${VM_ENV:-} $(compgen -e | grep -E '^(WGM|WG)_'); do
    if [ -n "${!name+x}" ]; then printf 'export %s=%q\n' "$name" "${!name}"; fi
  done
} >"$run/env"

accel=(-accel tcg,thread=multi -cpu max)
if [ "${VM_KVM:-0}" = 1 ]; then accel=(-accel kvm -cpu host); fi

boot() {
  rm -f "$run/started" "$run/status"
  : >"$run/out"
  : >"$run/err"
  timeout -k 5 "$timeout_s" qemu-system-x86_64 "${accel[@]}" -M pc -smp "$cpus" -m "$mem" \
    -nodefaults -no-user-config -display none -no-reboot \
    -kernel "/boot/vmlinuz-$kver" -initrd "$initrd" \
    -append 'console=ttyS0 quiet loglevel=4 panic=-1 rdinit=/init' \
    -serial "file:$run/console.log" \
    -fsdev local,id=r,path=/,security_model=none,readonly=on,multidevs=remap \
    -device virtio-9p-pci,fsdev=r,mount_tag=hostroot \
    -fsdev "local,id=v,path=$run,security_model=none" -device virtio-9p-pci,fsdev=v,mount_tag=vmrun \
    -device virtio-serial-pci \
    -chardev "file,id=o,path=$run/out" -device virtserialport,chardev=o,name=out \
    -chardev "file,id=e,path=$run/err" -device virtserialport,chardev=e,name=err \
    </dev/null >"$run/qemu.log" 2>&1 &
  qemu_pid=$!
  wait "$qemu_pid"
  qemu_status=$?
  qemu_pid=
}

# A guest that dies before the command starts (TCG has shown a rare early kernel panic) is
# booted again; a command that started is never run twice.
boot
for ((retry = 0; retry < ${VM_BOOT_RETRIES:-1}; retry++)); do
  [ -e "$run/started" ] || [ "$qemu_status" = 124 ] || [ "$qemu_status" = 137 ] && break
  echo "run-in-vm: the guest died while booting (qemu status $qemu_status), booting again" >&2
  [ "${VM_DEBUG:-0}" = 1 ] && cat "$run/console.log" >&2
  boot
done

cat "$run/out"
cat "$run/err" >&2
if [ "${VM_DEBUG:-0}" = 1 ]; then
  echo "--- run-in-vm: guest console ---" >&2
  cat "$run/console.log" >&2
  echo "--- run-in-vm: qemu ---" >&2
  cat "$run/qemu.log" >&2
fi
if [ -s "$run/status" ]; then
  exit "$(cat "$run/status")"
fi
if [ "$qemu_status" = 124 ] || [ "$qemu_status" = 137 ]; then
  echo "run-in-vm: timed out after ${timeout_s}s" >&2
else
  echo "run-in-vm: the VM ended without running the command (qemu status $qemu_status)" >&2
fi
tail -n 20 "$run/console.log" "$run/qemu.log" >&2 2>/dev/null
exit "$VM_FAIL"
