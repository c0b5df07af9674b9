#!/bin/busybox sh
# /init of the wgm test VM's initramfs (test/vm/run-in-vm.sh builds it).
# Loads the 9p and overlay modules, mounts the host's / read-only with a tmpfs overlay on
# /newroot, mounts the per-run share at /run/vmrun, and hands over to its stage2 script.
/bin/busybox --install -s /bin
export PATH=/bin

fail() {
  echo "wgm-vm init: $*" >/dev/console
  echo o >/proc/sysrq-trigger
  sleep 10
}

mkdir -p /proc /sys /dev /lower /upper /newroot
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

for m in netfs 9pnet 9pnet_virtio 9p overlay; do
  insmod "/lib/wgm-vm/$m.ko" || fail "insmod $m failed"
done

mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro,cache=loose hostroot /lower ||
  fail 'cannot mount the host root over 9p'
mount -t tmpfs -o mode=0755 tmpfs /upper || fail 'cannot mount the overlay tmpfs'
mkdir -p /upper/upper /upper/work
mount -t overlay -o lowerdir=/lower,upperdir=/upper/upper,workdir=/upper/work overlay /newroot ||
  fail 'cannot mount the overlay root'
mount -t tmpfs -o mode=0755 tmpfs /newroot/run || fail 'cannot mount /run'
mkdir -p /newroot/run/vmrun
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 vmrun /newroot/run/vmrun ||
  fail 'cannot mount the run share'
for d in dev proc sys; do
  mount --move "/$d" "/newroot/$d" || fail "cannot move /$d"
done
exec switch_root /newroot /bin/bash /run/vmrun/stage2
