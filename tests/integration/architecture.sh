#!/bin/bash
# The layering of core/ (docs/ARCHITECTURE.md) holds: every include goes to
# the folder's own headers or to the interface header of a folder below;
# no include cycle between folders or files; no call from a folder's
# objects up or across (nm of the build), no call cycle between core/
# files; no source file over 800 lines (tests/lib/archcheck.py). First it
# proves that the checker catches each kind of violation, planted in a
# copy of the tree.
. "$(dirname "$0")/lib.sh"

CHECK="python3 $TOP/tests/lib/archcheck.py"
BUILD_DIR=${STRATA_BUILD:-$TOP/${BUILD:-build}}

# the tree as it is
if [ ! -f "$BUILD_DIR/core/store/store.o" ]; then
	skip architecture/tree "no objects in $BUILD_DIR (make first)"
elif out=$($CHECK --root "$TOP" --build "$BUILD_DIR" 2>&1); then
	pass architecture/tree
else
	fail architecture/tree "$(echo "$out" | grep -v '^PASS' | head -20)"
fi

# A copy of the sources (core, drivers, volume-drivers, cli) and of the
# objects, each planted with one violation; the checker must name it.
copy_tree() {
	rm -rf "$T/tree" "$T/objs"
	mkdir -p "$T/tree" "$T/objs"
	(cd "$TOP" && cp -r core drivers volume-drivers cli "$T/tree/")
	# the objects as hard links: plants only add files
	[ -d "$BUILD_DIR/core" ] && (cd "$BUILD_DIR" && find core -name '*.o' -print0 |
		xargs -0 sh -c 'cp -l --parents -t "$0" "$@" 2>/dev/null || cp --parents -t "$0" "$@"' "$T/objs")
}

planted() { # NAME CHECK EXPECT: the checker fails CHECK, naming EXPECT
	local name=$1 check=$2 expect=$3 out
	out=$($CHECK --root "$T/tree" ${4:+--build "$T/objs"} 2>&1)
	if [ $? -ne 0 ] && echo "$out" | grep -q "^FAIL $check" && echo "$out" | grep -qF -- "$expect"; then
		pass "architecture/catches-$name"
	else
		fail "architecture/catches-$name" "$(echo "$out" | head -20)"
	fi
}

copy_tree
echo '#include "image/image.h"' >>"$T/tree/core/store/lease.c"
planted upward-include includes 'core/store/lease.c: includes "image/image.h": core/image/ is above core/store/'

copy_tree
echo '#include "store/store.h"' >>"$T/tree/core/base/json.c"
planted folder-include-cycle include-cycles 'archive -> base -> store'

copy_tree
echo '#include "volume/volume.h"' >>"$T/tree/core/image/image_save.c"
planted include-beside includes 'core/image/image_save.c: includes "volume/volume.h": core/volume/ is beside core/image/'

copy_tree
echo '#include "store/driver_int.h"' >>"$T/tree/drivers/vfs/vfs.c"
planted private-header includes 'private header of core/store/'

copy_tree
printf '#include "plant_b.h"\n' >"$T/tree/core/base/plant_a.h"
printf '#include "plant_a.h"\n' >"$T/tree/core/base/plant_b.h"
planted file-include-cycle include-cycles 'files core/base/plant_a.h, core/base/plant_b.h'

copy_tree
seq 801 | sed 's|^|// line |' >"$T/tree/core/archive/plant.c"
planted long-file file-size 'core/archive/plant.c: 801 lines'

# calls: an object of core/store that calls the image store (declared in
# strata.h, so no include shows it)
if [ -f "$BUILD_DIR/core/store/store.o" ]; then
	copy_tree
	printf '#include "strata.h"\nint plant(struct st_store *s, struct st_image *i) { return st_image_get(s, "x", i, 0); }\n' \
		>"$T/tree/core/store/plant.c"
	cc -c -I"$TOP/include" -o "$T/objs/core/store/plant.o" "$T/tree/core/store/plant.c"
	planted upward-call calls 'core/store/plant calls st_image_get of core/image/image' build

	copy_tree
	printf 'int plant_b(void);\nint plant_a(int n) { return n ? plant_b() : 0; }\n' >"$T/tree/core/base/plant_a.c"
	printf 'int plant_a(int);\nint plant_b(void) { return plant_a(0); }\n' >"$T/tree/core/base/plant_b.c"
	cc -c -o "$T/objs/core/base/plant_a.o" "$T/tree/core/base/plant_a.c"
	cc -c -o "$T/objs/core/base/plant_b.o" "$T/tree/core/base/plant_b.c"
	planted call-cycle call-cycles 'core/base/plant_a, core/base/plant_b' build
else
	skip architecture/catches-upward-call "no objects in $BUILD_DIR (make first)"
fi

exit $((fails > 0))
