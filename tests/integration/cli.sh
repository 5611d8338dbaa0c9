#!/bin/bash
# The strata command line: --help everywhere, exit codes (0 ok, 1 error,
# 2 usage), "strata: error:" messages, STRATA_ROOT / STRATA_STORAGE_DRIVER,
# unknown drivers, `driver exists`, `driver diff` refusing a terminal, and
# a create/mount/diff/apply/changes/import round trip through the binary.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
S=${STRATA_BIN:-$PWD/$BUILD/strata}
if [ ! -x "$S" ]; then
	echo "FAIL cli: $S is not built"
	exit 1
fi
tmp=$(mktemp -d "${STRATA_TEST_TMP:-/tmp}/strata-cli-XXXXXX")
trap 'rm -rf --one-file-system "$tmp"' EXIT
export STRATA_ROOT=$tmp/root STRATA_STORAGE_DRIVER=vfs
fails=0

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; fails=$((fails + 1)); }

# expect NAME CODE [--err TEXT] [--out TEXT] -- COMMAND...
expect() {
	local name=$1 code=$2 err_want= out_want=
	shift 2
	while [ "$1" != -- ]; do
		case $1 in
		--err) err_want=$2 ;;
		--out) out_want=$2 ;;
		esac
		shift 2
	done
	shift
	"$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	local rc=$?
	if [ $rc != "$code" ]; then
		fail "$name" "exit $rc, expected $code ($(head -c 300 "$tmp/err"))"
	elif [ -n "$err_want" ] && ! grep -qF -- "$err_want" "$tmp/err"; then
		fail "$name" "stderr lacks \"$err_want\": $(head -c 300 "$tmp/err")"
	elif [ -n "$out_want" ] && ! grep -qF -- "$out_want" "$tmp/out"; then
		fail "$name" "stdout lacks \"$out_want\": $(head -c 300 "$tmp/out")"
	else
		pass "$name"
	fi
}

# ---------------------------------------------------------------- --help
# every command the binary lists, and every subcommand of every group
cmds=$("$S" --help | awk '/^Commands:/{on=1; next} on && /^  [a-z]/{print $1}')
[ -n "$cmds" ] && pass help-lists-commands || fail help-lists-commands "no commands in strata --help"
expect help-top 0 --out "Usage:" -- "$S" --help
for c in $cmds; do
	expect "help-$c" 0 --out "Usage:" -- "$S" "$c" --help
	subs=$("$S" "$c" --help 2>/dev/null | awk '/^Commands:/{on=1; next} on && /^  [a-z]/{print $1}')
	for sc in $subs; do
		expect "help-$c-$sc" 0 --out "Usage:" -- "$S" "$c" "$sc" --help
	done
done
[ "$(echo "$cmds" | grep -c -e '^driver$' -e '^layer$' -e '^info$')" = 3 ] && pass help-core-commands-listed ||
	fail help-core-commands-listed "info, driver and layer are not all listed"
expect version 0 --out "strata version" -- "$S" --version

# ------------------------------------------------------------ usage: 2
expect unknown-global-option 2 --err "strata: error: unknown option" -- "$S" --bogus info
expect unknown-command 2 --err "strata: error: unknown command \"bogus\"" -- "$S" bogus
expect no-command 2 --err "Usage:" -- "$S"
expect unknown-info-option 2 --err "strata: error:" -- "$S" info --bogus
expect info-bad-template 1 --err "strata: error: template: :1: unclosed action" -- "$S" info --format '{{.Bogus'
expect unknown-driver-subcommand 2 --err "strata: error: unknown command" -- "$S" driver bogus
expect driver-group-without-command 2 -- "$S" driver
expect unknown-driver-option 2 --err "strata: error: unknown option" -- "$S" driver create --bogus x
expect option-needs-value 2 --err "needs a value" -- "$S" driver create --parent
expect option-not-for-command 2 --err "does not apply" -- "$S" driver rm --parent a b
expect missing-argument 2 --err "requires exactly 1 argument" -- "$S" driver exists
expect extra-argument 2 --err "requires exactly 1 argument" -- "$S" driver rm a b
expect unknown-layer-option 2 --err "strata: error: unknown option" -- "$S" layer ls --bogus
expect storage-opt-without-equals 2 --err "key=value" -- "$S" --storage-opt nonsense info

# ---------------------------------------------------------- errors: 1
# a relative root is taken from the current directory
(cd "$tmp" && "$S" --root relative/dir info >/dev/null 2>&1) && [ -f "$tmp/relative/dir/strata.json" ] &&
	echo "PASS relative-root-resolved-from-cwd" || { echo "FAIL relative-root-resolved-from-cwd"; fails=$((fails + 1)); }
expect invalid-layer-id 1 --err "strata: error: invalid layer id" -- "$S" driver create 'bad/id'
expect missing-layer-rm 1 --err "strata: error:" -- "$S" driver rm no-such-layer
expect missing-layer-mount 1 --err "strata: error:" -- "$S" driver mount no-such-layer
expect missing-parent 1 --err "strata: error:" -- "$S" driver create --parent no-such-parent child
expect unmount-not-mounted 1 --err "strata: error:" -- "$S" driver unmount no-such-layer
expect import-missing-file 1 --err "strata: error:" -- "$S" layer import "$tmp/no-such.tar"
head -c 3000 /dev/urandom >"$tmp/garbage"
expect import-garbage 1 --err "strata: error:" -- "$S" layer import "$tmp/garbage"
expect unknown-storage-opt 1 --err "unknown option" -- "$S" --storage-opt bogus=1 info
expect layer-rm-unknown 1 --err "strata: error:" -- "$S" layer rm sha256:0000000000000000000000000000000000000000000000000000000000000000

# ------------------------------------------------------------- drivers
expect unknown-driver-lists-known 1 --err "vfs" -- "$S" --storage-driver nope info
expect unknown-driver-message 1 --err "unknown storage driver \"nope\"" -- "$S" --storage-driver nope info
expect unknown-driver-from-env 1 --err "known:" -- env STRATA_STORAGE_DRIVER=nope "$S" info
expect info-driver-from-env 0 --out '"Driver": "vfs"' -- "$S" info --format json
expect info-root-from-env 0 --out "\"Root\": \"$tmp/root\"" -- "$S" info --format json
expect root-flag-beats-env 0 --out "\"Root\": \"$tmp/other\"" -- "$S" --root "$tmp/other" info --format json
expect driver-flag-beats-env 1 --err "nope" -- env STRATA_STORAGE_DRIVER=vfs "$S" --storage-driver nope info
expect info-table 0 --out "Storage Driver: vfs" -- "$S" info
expect info-lists-every-driver 0 --out "vfs: supported" -- "$S" info

# --------------------------------------------------- driver round trip
expect driver-create 0 -- "$S" driver create base
expect driver-exists-yes 0 -- "$S" driver exists base
expect driver-exists-no 1 -- "$S" driver exists no-such-layer
expect driver-exists-invalid-id 1 -- "$S" driver exists 'bad/id'
expect driver-create-twice 1 --err "already exists" -- "$S" driver create base
mnt=$("$S" driver mount base 2>"$tmp/err")
if [ -d "$mnt" ]; then
	pass driver-mount-prints-path
	echo hello >"$mnt/hello"
	mkdir "$mnt/dir" && echo inner >"$mnt/dir/inner"
else
	fail driver-mount-prints-path "printed \"$mnt\""
fi
expect driver-ls 0 --out "base" -- "$S" driver ls
expect driver-rm-mounted 1 --err "mounted" -- "$S" driver rm base
expect driver-unmount 0 -- "$S" driver unmount base
expect driver-create-child 0 -- "$S" driver create --parent base --rw child
expect driver-rm-with-child 1 --err "child" -- "$S" driver rm base
mnt=$("$S" driver mount child)
echo changed >"$mnt/hello" && rm -r "$mnt/dir" && echo new >"$mnt/new"
"$S" driver unmount child
expect driver-changes 0 --out "A /new" -- "$S" driver changes child
"$S" driver changes child >"$tmp/changes"
if [ "$(cat "$tmp/changes")" = "$(printf 'D /dir\nC /hello\nA /new')" ]; then
	pass driver-changes-exact
else
	fail driver-changes-exact "$(tr '\n' '|' <"$tmp/changes")"
fi
expect driver-diff-size 0 --out "12" -- "$S" driver diff-size child
"$S" driver diff child >"$tmp/child.tar" && [ -s "$tmp/child.tar" ] && pass driver-diff-to-file ||
	fail driver-diff-to-file "no tar"
if command -v script >/dev/null; then
	script -qec "$S driver diff child" /dev/null >"$tmp/tty" 2>&1
	rc=$?
	if [ $rc = 1 ] && grep -q "strata: error: refusing to write a layer tar to a terminal" "$tmp/tty"; then
		pass driver-diff-refuses-terminal
	else
		fail driver-diff-refuses-terminal "exit $rc: $(head -c 200 "$tmp/tty" | tr -d '\0')"
	fi
else
	echo "SKIP driver-diff-refuses-terminal: script(1) is not installed"
fi
"$S" driver create --parent base fresh
applied=$("$S" driver apply fresh <"$tmp/child.tar")
size=$("$S" driver diff-size child)
[ "$applied" = "$size" ] && pass driver-apply-prints-size || fail driver-apply-prints-size "applied $applied, diff-size $size"
"$S" driver changes fresh >"$tmp/changes2"
cmp -s "$tmp/changes" "$tmp/changes2" && pass driver-apply-reproduces-changes ||
	fail driver-apply-reproduces-changes "$(tr '\n' '|' <"$tmp/changes2")"
expect driver-apply-garbage 1 --err "strata: error:" -- sh -c "'$S' driver apply fresh <'$tmp/garbage'"

# ------------------------------------------------------------- layers
mkdir -p "$tmp/src/etc" && echo strata >"$tmp/src/etc/name"
tar -C "$tmp/src" -cf "$tmp/layer.tar" .
want="sha256:$(sha256sum <"$tmp/layer.tar" | cut -d' ' -f1)"
got=$("$S" layer import "$tmp/layer.tar")
[ "$got" = "$want" ] && pass layer-import-prints-chain-id || fail layer-import-prints-chain-id "$got, expected $want"
got=$("$S" layer import - <"$tmp/layer.tar")
[ "$got" = "$want" ] && pass layer-import-stdin-same-chain-id || fail layer-import-stdin-same-chain-id "$got"
gzip -c "$tmp/layer.tar" >"$tmp/layer.tar.gz"
got=$("$S" layer import "$tmp/layer.tar.gz")
[ "$got" = "$want" ] && pass layer-import-gzip-same-chain-id || fail layer-import-gzip-same-chain-id "$got"
expect layer-ls-quiet 0 --out "$want" -- "$S" layer ls -q
expect layer-ls-json 0 --out "\"ChainID\": \"$want\"" -- "$S" layer ls --format json
if "$S" layer --help | grep -q '^  export'; then
	"$S" layer export "$want" >"$tmp/export.tar"
	cmp -s "$tmp/export.tar" "$tmp/layer.tar" && pass layer-export-byte-exact || fail layer-export-byte-exact "differs"
fi
if "$S" layer --help | grep -q '^  rm'; then
	expect layer-rm 0 --out "$want" -- "$S" layer rm "$want"
	[ -z "$("$S" layer ls -q)" ] && pass layer-rm-removes || fail layer-rm-removes "still listed"
fi

echo "cli: $fails failed"
[ $fails = 0 ]
