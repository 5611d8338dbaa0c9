/* Test helper: a tree as text, one line per entry with its metadata, so
 * that "left exactly as it was" and "matches a flat copy" are a string
 * comparison. */
#ifndef ST_SNAP_H
#define ST_SNAP_H

enum {
	SNAP_INO = 1 << 0,        /* inode numbers (same tree before/after) */
	SNAP_DIR_MTIME = 1 << 1,  /* directory mtimes */
	SNAP_MTIME = 1 << 2,      /* mtimes of everything but directories (seconds) */
	SNAP_NSEC = 1 << 3,       /* ... with nanoseconds */
	SNAP_ROOT = 1 << 4,       /* the root directory's own line "." */
	SNAP_SPARSE = 1 << 5,     /* whether regular files have holes */
};

/* Sorted lines "path type mode uid:gid ..." of everything under root
 * (not crossing mounts). Caller frees. */
char *snap_tree(const char *root, int flags);
/* NULL when equal, else a malloc'd text naming the first differing lines. */
char *snap_diff(const char *a, const char *b);
/* ck_assert that two snapshots are equal, printing the first difference. */
#define ck_assert_snap_eq(a, b, what)                                            \
	do {                                                                     \
		char *_d = snap_diff((a), (b));                                  \
		ck_assert_msg(_d == NULL, "%s: trees differ:\n%s", (what), _d); \
	} while (0)

#endif
