# Helpers for the docker plugin suites (sourced after tests/integration/lib.sh).
#   dp_start NAME ARGS...   strata docker-plugin serve --name NAME ARGS, waits until
#                           Plugin.Activate answers on /run/docker/plugins/NAME.sock
#   dp_kill NAME [SIG]      stops it by its pidfile (SIGTERM, or SIG) and waits
#   dp_call NAME CALL JSON  POSTs JSON to /CALL; prints "STATUS BODY" (dp_curl: other bodies)
#   graphtest_build         builds moby's graph driver suite (GOPATH mode, offline) into
#                           $GRAPHTEST; prints why not and returns 1 when it cannot
GRAPHTEST=$TOP/${BUILD:-build}/tests/graphtest
DP_NAMES=()

dp_sock() { echo "/run/docker/plugins/$1.sock"; }

dp_start() {
	local name=$1; shift
	"$BIN" docker-plugin serve --name "$name" --pidfile "$T/$name.pid" "$@" >>"$T/$name.log" 2>&1 &
	disown $!
	DP_NAMES+=("$name")
	local i
	for i in $(seq 1 100); do
		curl -sf --unix-socket "$(dp_sock "$name")" -X POST http://plugin/Plugin.Activate >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	tail -n 5 "$T/$name.log"
	return 1
}

dp_kill() {
	local name=$1 sig=${2:-TERM} pid
	pid=$(cat "$T/$name.pid" 2>/dev/null) || return 0
	kill -"$sig" "$pid" 2>/dev/null
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
}

dp_call() {
	local name=$1 call=$2 body=${3:-}
	dp_curl "$name" "$call" --data-binary "$body"
}

# dp_curl NAME CALL CURL-ARGS...: "STATUS BODY" of a POST with those arguments
dp_curl() {
	local name=$1 call=$2; shift 2
	curl -s --unix-socket "$(dp_sock "$name")" -X POST -w '\n%{http_code}' "$@" "http://plugin/$call" |
		awk '{a[NR]=$0} END{printf "%s", a[NR]; for (i = 1; i < NR; i++) printf " %s", a[i]; print ""}'
}

dp_cleanup() {
	local n
	for n in "${DP_NAMES[@]}"; do
		dp_kill "$n"
		rm -f "/run/docker/plugins/$n.sock" "/run/docker/plugins/$n.sock.init.json"
	done
}

graphtest_build() {
	if ! command -v go >/dev/null; then
		echo "go is not installed (golang-go; scripts/deps.sh)"
		return 1
	fi
	if [ ! -d /usr/share/gocode/src/github.com/docker/docker/daemon/graphdriver/graphtest ]; then
		echo "moby's graphtest is not installed (golang-github-docker-docker-dev; scripts/deps.sh)"
		return 1
	fi
	local b=$TOP/${BUILD:-build} src=$TOP/tests/docker-plugin/gopath
	# Debian keeps gotest.tools/v3 under its v1 path
	mkdir -p "$b/gopath/src/gotest.tools" "$b/tests"
	ln -sfn /usr/share/gocode/src/gotest.tools "$b/gopath/src/gotest.tools/v3"
	GO111MODULE=off GOFLAGS= GOPROXY=off GOPATH="$b/gopath:$src:/usr/share/gocode" GOCACHE="$b/gocache" \
		go test -c -o "$GRAPHTEST" strata/graphtest >"$T/graphtest-build.log" 2>&1 ||
		{ tail -n 5 "$T/graphtest-build.log"; return 1; }
}
