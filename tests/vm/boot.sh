#!/bin/bash
# tests/vm/boot.sh SCRIPT OUTDIR: boot the cached Debian kernel under qemu
# (TCG: no KVM needed) with the host's / as the guest's read-only root, run
# SCRIPT with bash as root inside, power off. OUTDIR (an existing host
# directory) is the guest's writable share, mounted at the same path; the
# console goes to OUTDIR/console.log (with host-side timestamps) and, with
# VM_ECHO=1, to stdout as well.
# Exit status: SCRIPT's, or 255 when the guest crashed or timed out.
# Env: SMP (1: faster than 2 on a 2-core host under TCG), MEM (2G),
#      VM_CPU (qemu64 under TCG: glibc then takes its SSE2 string functions,
#      which TCG runs faster than the AVX ones `-cpu max` selects; host under
#      KVM), VM_KVM=1 (use /dev/kvm; off by default), VM_APPEND (more
#      kernel parameters), VM_TIMEOUT (seconds, 540), VM_CACHE (tests/vm/cache).
set -u
VM=$(cd "$(dirname "$0")" && pwd)
CACHE=${VM_CACHE:-$VM/cache}
SCRIPT=$(realpath "${1:?usage: boot.sh SCRIPT OUTDIR}")
OUT=$(realpath "${2:?usage: boot.sh SCRIPT OUTDIR}")
[ -f "$CACHE/vmlinux" ] || { echo "boot: no VM cache in $CACHE (run tests/vm/prep.sh)" >&2; exit 255; }
rm -f "$OUT/rc"
LOG=$OUT/console.log
: >"$LOG"

t0=${EPOCHREALTIME/./}
stamp() { # prefix each console line with seconds since qemu started
	local line now
	while IFS= read -r line; do
		line=${line%$'\r'}
		now=${EPOCHREALTIME/./}
		now=$(((now - t0) / 10000))
		printf '[%4d.%02d] %s\n' $((now / 100)) $((now % 100)) "$line"
	done
}

# no_timer_check: on a busy host TCG can be too slow for the kernel's early
# IO-APIC timer check, which then panics ("IO-APIC + timer doesn't work").
# clocksource=hpet: the TSC calibration can go wrong on a busy host too (a
# guest clock seen running 3x fast, which breaks every timeout and sleep
# inside); QEMU's HPET follows the host clock, and costs nothing measurable.
# TCG unless asked for KVM: on these machines /dev/kvm can be there and
# still fail the guest ("KVM internal error ... emulation failure", nested).
ACCEL=tcg CPU=${VM_CPU:-qemu64}
if [ "${VM_KVM:-0}" = 1 ] && [ -w /dev/kvm ]; then
	ACCEL=kvm CPU=${VM_CPU:-host}
fi
boot() {
	timeout -k 5 "${VM_TIMEOUT:-540}" qemu-system-x86_64 -accel "$ACCEL" -M pc -cpu "$CPU" \
		-smp "${SMP:-1}" -m "${MEM:-2G}" \
		-bios /usr/share/qemu/qboot.rom -nographic -no-reboot -nic none \
		-kernel "$CACHE/vmlinux" -initrd "$CACHE/initrd.img" \
		-append "console=ttyS0 panic=-1 loglevel=4 mitigations=off no_timer_check clocksource=hpet ${VM_APPEND:-} vmtest.script=$SCRIPT vmtest.out=$OUT vmtest.kdir=$CACHE/kernel vmtest.src=$(dirname "$(dirname "$VM")")" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		-virtfs local,path="$OUT",mount_tag=hostout,security_model=none \
		</dev/null 2>&1 | stamp | if [ "${VM_ECHO:-0}" = 1 ]; then tee -a "$LOG"; else cat >>"$LOG"; fi
	return "${PIPESTATUS[0]}"
}

# A guest that dies before the script starts (early boot) is booted once
# more: that is the host, not the code under test. Every later death counts.
for attempt in 1 2; do
	boot
	qrc=$?
	[ -f "$OUT/rc" ] || grep -q VMTEST_START "$LOG" || [ $attempt = 2 ] || [ $qrc = 124 ] || [ $qrc = 137 ] || {
		echo "host: the guest died before the script started (qemu exit $qrc); booting again" | tee -a "$LOG"
		continue
	}
	break
done
now=$(((${EPOCHREALTIME/./} - t0) / 10000))
printf 'host: qemu exited with %d after %d.%02d s\n' "$qrc" $((now / 100)) $((now % 100)) >>"$LOG"
if [ -f "$OUT/rc" ]; then
	exit "$(cat "$OUT/rc")"
fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	echo "host: the guest timed out after ${VM_TIMEOUT:-540} s" >>"$LOG"
else
	echo "host: no exit status from the guest (it crashed or powered off early)" >>"$LOG"
fi
exit 255
