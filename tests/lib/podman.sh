# Podman on private storage for the suites that run it (sourced; uses $T).
# setup_podman [TOML]: podman on private storage (vfs) and config under $T/podman
# (export CONTAINERS_STORAGE_CONF and CONTAINERS_CONF to use it); TOML is added
# at the end of containers.conf (e.g. an [engine.volume_plugins] table).
setup_podman() {
	mkdir -p "$T/podman/tmp"
	cat >"$T/podman/storage.conf" <<-EOF
	[storage]
	driver = "vfs"
	graphroot = "$T/podman/graph"
	runroot = "$T/podman/run"
	EOF
	cat >"$T/podman/containers.conf" <<-EOF
	[engine]
	cgroup_manager = "cgroupfs"
	events_logger = "file"
	events_logfile_path = "$T/podman/events.log"
	tmp_dir = "$T/podman/tmp"
	runtime = "runc"
	[containers]
	default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
	netns = "none"
	${1:-}
	EOF
}
