#!/bin/bash
# Regenerates testdata/modern/ with today's PyTorch (run by hand, as root;
# CI only reads the committed files). Builds a Debian trixie chroot at
# $CHROOT (default /srv/trixie; about 8 minutes and 4.6 GB the first time)
# with python3-torch 2.6, python3-torchvision 0.21, python3-onnx 1.17 and
# python3-onnxruntime 1.21, then runs make_modern.py inside it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
CHROOT=${CHROOT:-/srv/trixie}
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
if [ ! -x "$CHROOT/usr/bin/python3" ] || ! chroot "$CHROOT" python3 -c 'import torch, torchvision, onnx, onnxruntime' 2>/dev/null; then
  command -v debootstrap >/dev/null || { apt-get update -qq; apt-get install -y -qq debootstrap; }
  [ -d "$CHROOT/usr" ] || debootstrap --variant=minbase trixie "$CHROOT" "$mirror"
  chroot "$CHROOT" apt-get update -qq
  chroot "$CHROOT" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch python3-torchvision python3-onnx python3-onnxruntime
fi
# onnxruntime reads /proc/cpuinfo; the work folder is shared by a bind mount
for d in proc sys dev; do mountpoint -q "$CHROOT/$d" || mount --bind "/$d" "$CHROOT/$d"; done
mkdir -p "$CHROOT/mnt/modern"
mountpoint -q "$CHROOT/mnt/modern" || mount --bind "$here" "$CHROOT/mnt/modern"
trap 'umount "$CHROOT/mnt/modern"' EXIT
chroot "$CHROOT" python3 /mnt/modern/make_modern.py /mnt/modern
