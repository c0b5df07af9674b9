#!/bin/bash
# Runs in the wgm test VM as PID 1 after switch_root (copied to /run/vmrun/stage2 by
# run-in-vm.sh). Prepares /dev, runs the command in the host's working directory with its
# stdout and stderr on two virtio-serial ports, records the exit status, and powers off.
share=/run/vmrun

mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts 2>/dev/null ||
  { mkdir -p /dev/pts && mount -t devpts devpts /dev/pts; }
mkdir -p /dev/shm && mount -t tmpfs -o mode=1777 tmpfs /dev/shm
# Without these, process substitution such as <(wg genkey) fails.
ln -sfn /proc/self/fd /dev/fd
ln -sfn /proc/self/fd/0 /dev/stdin
ln -sfn /proc/self/fd/1 /dev/stdout
ln -sfn /proc/self/fd/2 /dev/stderr
ip link set lo up 2>/dev/null
hostname wgm-vm 2>/dev/null

port() {
  local p
  for p in /sys/class/virtio-ports/*; do
    if [ "$(cat "$p/name" 2>/dev/null)" = "$1" ]; then
      echo "/dev/${p##*/}"
      return 0
    fi
  done
  return 1
}
out=$(port out) && err=$(port err) || {
  echo 'wgm-vm stage2: virtio-serial ports missing' >/dev/console
  echo o >/proc/sysrq-trigger
}

set -a
# shellcheck disable=SC1091
. "$share/env"
set +a
cd "$(cat "$share/cwd")" || echo "wgm-vm stage2: cannot cd to $(cat "$share/cwd")" >/dev/console

: >"$share/started"
bash -c "$(cat "$share/cmd")" </dev/null >"$out" 2>"$err"
echo "$?" >"$share/status.tmp" && mv "$share/status.tmp" "$share/status"
sync
echo o >/proc/sysrq-trigger
sleep 10
