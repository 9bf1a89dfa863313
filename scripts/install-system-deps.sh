#!/usr/bin/env bash
# Install the Debian packages SuperSonic needs, only those missing (idempotent, quiet when done).
set -euo pipefail
# chromium and chromium-driver: the tests open `supersonic report`'s HTML in headless Chromium.
# openssh-*, iproute2, procps: the cluster launcher (ssh) and its system tests (a private sshd on
# loopback, network namespaces, process listings).
PACKAGES="clang-14 llvm-14 libtinfo5 csmith libcsmith-dev g++ chromium chromium-driver openssh-client openssh-server iproute2 procps"
missing=""
for pkg in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $pkg"
  fi
done
if [ -z "$missing" ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
echo "installing system packages:$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing > /dev/null
