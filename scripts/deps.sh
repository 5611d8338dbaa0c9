#!/bin/bash
# Installs the Debian 12 packages strata needs. A no-op when all are present.
#   scripts/deps.sh          everything: build, run, demo, every test suite, benchmarks
#   scripts/deps.sh demo     what `make demo` needs: build, run, the demo's tools
# Add a package here, not in ad-hoc scripts.
set -euo pipefail
profile=${1:-all}
BUILD_PKGS=(
	build-essential clang pkg-config
	libarchive-dev libjson-c-dev libssl-dev libmount-dev libcurl4-openssl-dev
	libdevmapper-dev libbtrfsutil-dev zlib1g-dev check
	# servers (servers/docker: Docker's plugin protocol over HTTP)
	libmicrohttpd-dev
)
RUN_PKGS=(
	# OCI runtime for RUN and containers
	runc
)
DEMO_PKGS=(
	# the demo's base image and its side-by-side history
	busybox-static jq bc
)
TEST_PKGS=(
	# tests: filesystems on loop devices, tools to inspect them
	btrfs-progs xfsprogs e2fsprogs attr busybox-static kmod util-linux jq bc debootstrap curl
	# what the suites call (file types, zstd archives, TLS certificates, pgrep, the tree's version)
	file zstd openssl procps git
	# VM tests (tests/vm): qemu, initramfs tools, device-mapper and NFS in the guest (ip brings up its loopback)
	qemu-system-x86 cpio python3 dmsetup thin-provisioning-tools nfs-kernel-server rpcbind udev iproute2
	# interop tests (tests/integration/interop.sh): the peers strata's images move to and from
	docker.io podman skopeo
	# docker plugin tests (tests/integration/docker_plugin.sh): moby's graph driver suite, built offline
	# in GOPATH mode from Debian's Go sources (graphtest, its plugin client, and what they import)
	golang-go golang-github-docker-docker-dev golang-github-vbatts-tar-split-dev
	golang-github-gotestyourself-gotest.tools-dev golang-github-google-go-cmp-dev
	golang-github-containerd-continuity-dev golang-github-containerd-containerd-dev golang-github-moby-sys-dev
	golang-github-docker-go-connections-dev golang-github-docker-go-units-dev golang-golang-x-sys-dev
	golang-golang-x-net-dev golang-github-opencontainers-image-spec-dev golang-github-opencontainers-runc-dev
	golang-github-opencontainers-go-digest-dev golang-github-gogo-protobuf-dev golang-github-sirupsen-logrus-dev
	golang-github-pkg-errors-dev
	# registry tests (tests/integration/registry.sh): a real OCI registry, htpasswd for its basic auth
	docker-registry apache2-utils
	# benchmarks (strata bench --plot, bench/peers.sh): plots, the remaining peer
	gnuplot-nox buildah
)
case $profile in
demo) PKGS=("${BUILD_PKGS[@]}" "${RUN_PKGS[@]}" "${DEMO_PKGS[@]}") ;;
all) PKGS=("${BUILD_PKGS[@]}" "${RUN_PKGS[@]}" "${DEMO_PKGS[@]}" "${TEST_PKGS[@]}") ;;
*) echo "usage: scripts/deps.sh [all|demo]" >&2; exit 2 ;;
esac
missing=()
for p in "${PKGS[@]}"; do
	[[ $p == \#* ]] && continue
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
if [ "$(id -u)" != 0 ]; then
	echo "deps: need root to install packages: ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# no daemons may start from package scripts (there is no init system here)
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
fi
apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}" >/dev/null
