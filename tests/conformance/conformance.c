/* The storage-driver conformance suite: what every driver must do, checked
 * only through the st_drv_* interface (so the core's records, mount counts
 * and naive diff fallback are covered too). Files inside a mounted layer
 * are made and checked with plain system calls, as a container would.
 *
 * Env: STRATA_TEST_DRIVER (driver name, default vfs), STRATA_TEST_HOME (an
 * existing directory; each case gets a fresh subdirectory as the driver
 * home), STRATA_TEST_DRIVER_OPTS (comma-separated key=value init options).
 * tests/conformance/run.sh DRIVER prepares all three. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "snap.h"
#include "tartest.h"
#include "testlib.h"

static const char *drv_name;
static char *suite_home;
static bool suite_home_made;
static struct st_kvlist init_opts;

static struct st_driver *d;
static char home[PATH_MAX];

/* ------------------------------------------------------------- helpers */

static struct st_error err;

#define DRV(call) ST_OK(call, &err)

static void mk(const char *id, const char *parent, bool rw)
{
	DRV(st_drv_create(d, id, parent, rw, NULL, &err));
}

/* Mount a layer; the path stays valid until the matching put. */
static char *get(const char *id)
{
	static char paths[8][PATH_MAX];
	static int next;
	char *p = paths[next++ % 8];
	DRV(st_drv_get(d, id, p, PATH_MAX, &err));
	struct stat st;
	ck_assert_msg(stat(p, &st) == 0 && S_ISDIR(st.st_mode), "layer %s: get gave \"%s\", not a directory", id, p);
	return p;
}

static void put(const char *id)
{
	DRV(st_drv_put(d, id, &err));
}

static void commit(const char *id)
{
	DRV(st_drv_commit(d, id, &err));
}

static void path_of(char *out, const char *root, const char *rel)
{
	snprintf(out, PATH_MAX, "%s/%s", root, rel);
}

static void wfile(const char *root, const char *rel, const char *content, mode_t mode)
{
	char p[PATH_MAX];
	path_of(p, root, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	ck_assert_msg(fd >= 0, "create %s: %s", p, strerror(errno));
	ck_assert_int_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

static char *rfile(const char *root, const char *rel)
{
	char *s = st_test_read(root, rel);
	ck_assert_msg(s != NULL, "read %s/%s: %s", root, rel, strerror(errno));
	return s;
}

static void ck_content(const char *root, const char *rel, const char *want)
{
	char *s = rfile(root, rel);
	ck_assert_msg(strcmp(s, want) == 0, "%s: \"%s\", expected \"%s\"", rel, s, want);
	free(s);
}

static void mkd(const char *root, const char *rel, mode_t mode)
{
	char p[PATH_MAX];
	path_of(p, root, rel);
	ck_assert_msg(mkdir(p, mode) == 0, "mkdir %s: %s", p, strerror(errno));
	ck_assert_int_eq(chmod(p, mode), 0);
}

static void own(const char *root, const char *rel, uid_t u, gid_t g)
{
	char p[PATH_MAX];
	path_of(p, root, rel);
	ck_assert_msg(lchown(p, u, g) == 0, "chown %s: %s", p, strerror(errno));
}

static void chm(const char *root, const char *rel, mode_t mode)
{
	char p[PATH_MAX];
	path_of(p, root, rel);
	ck_assert_msg(chmod(p, mode) == 0, "chmod %s: %s", p, strerror(errno));
}

static void rm(const char *root, const char *rel)
{
	ck_assert_int_eq(st_test_sh("rm -rf --one-file-system '%s/%s'", root, rel), 0);
}

/* rename(2), and where the driver answers EXDEV (overlay without
 * redirect_dir, for a lower directory) what mv(1) then does: copy and
 * delete. Either way the layer must end up renamed. */
static void mv(const char *root, const char *from, const char *to)
{
	char a[PATH_MAX], b[PATH_MAX];
	path_of(a, root, from);
	path_of(b, root, to);
	if (rename(a, b) == 0)
		return;
	ck_assert_msg(errno == EXDEV, "rename %s -> %s: %s", a, b, strerror(errno));
	ck_assert_msg(st_test_sh("mv '%s' '%s'", a, b) == 0, "mv %s -> %s failed", a, b);
}

static void set_mtime(const char *root, const char *rel, time_t t)
{
	char p[PATH_MAX];
	path_of(p, root, rel);
	struct timespec ts[2] = {{t, 0}, {t, 0}};
	ck_assert_int_eq(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static struct stat lst(const char *root, const char *rel)
{
	char p[PATH_MAX];
	path_of(p, root, rel);
	struct stat st;
	ck_assert_msg(lstat(p, &st) == 0, "lstat %s: %s", p, strerror(errno));
	return st;
}

static bool exists(const char *root, const char *rel)
{
	return st_test_exists(root, rel);
}

static void ck_mode(const char *root, const char *rel, mode_t type, mode_t perm, uid_t u, gid_t g)
{
	struct stat st = lst(root, rel);
	ck_assert_msg((st.st_mode & S_IFMT) == type, "%s: type 0%o, expected 0%o", rel, st.st_mode & S_IFMT, type);
	ck_assert_msg((st.st_mode & 07777) == perm, "%s: mode 0%04o, expected 0%04o", rel, st.st_mode & 07777, perm);
	ck_assert_msg(st.st_uid == u && st.st_gid == g, "%s: owner %u:%u, expected %u:%u", rel, st.st_uid, st.st_gid,
		      u, g);
}

/* A layer made the way builds make them: read-write, filled, committed. */
static void make_layer(const char *id, const char *parent, void (*fill)(const char *root))
{
	mk(id, parent, true);
	char *p = get(id);
	if (fill)
		fill(p);
	put(id);
	commit(id);
}

static char *layer_snap(const char *id, int flags)
{
	char *p = get(id);
	char *s = snap_tree(p, flags);
	put(id);
	return s;
}

static void diff_layer(const char *id, const char *parent, struct tt_buf *out)
{
	struct tt_memwriter m;
	DRV(st_drv_diff(d, id, parent, tt_memwriter(&m), &err));
	*out = m.buf;
}

static int64_t apply_layer(const char *id, const char *parent, const struct tt_buf *tar)
{
	struct tt_memreader m;
	int64_t n = st_drv_apply(d, id, parent, tt_memreader(&m, tar->data, tar->len, 0), &err);
	ck_assert_msg(n >= 0, "apply to %s failed: %s", id, err.msg);
	return n;
}

/* "A /x\nD /y\n" */
static char *changes_text(const char *id, const char *parent)
{
	struct st_changes c = {0};
	DRV(st_drv_changes(d, id, parent, &c, &err));
	struct tt_buf b = {0};
	for (size_t i = 0; i < c.n; i++) {
		char line[PATH_MAX + 8];
		snprintf(line, sizeof(line), "%c %s\n", c.v[i].kind, c.v[i].path);
		tt_buf_add(&b, line, strlen(line));
	}
	tt_buf_add(&b, "", 1);
	st_changes_free(&c);
	return (char *)b.data;
}

static void ck_changes(const char *id, const char *parent, const char *want)
{
	char *got = changes_text(id, parent);
	ck_assert_msg(strcmp(got, want) == 0, "changes of %s:\n%s\nexpected (exactly, sorted):\n%s", id, got, want);
	free(got);
}

/* Is path a mount point in /proc/self/mountinfo? */
static bool in_mountinfo(const char *path)
{
	char real[PATH_MAX];
	if (!realpath(path, real))
		return false;
	FILE *f = fopen("/proc/self/mountinfo", "re");
	ck_assert_ptr_nonnull(f);
	char line[8192];
	bool found = false;
	while (!found && fgets(line, sizeof(line), f)) {
		char mp[PATH_MAX], un[PATH_MAX];
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
			continue;
		size_t j = 0;
		for (size_t i = 0; mp[i] && j + 1 < sizeof(un); i++) {
			if (mp[i] == '\\' && mp[i + 1] && mp[i + 2] && mp[i + 3]) {
				un[j++] = (char)((mp[i + 1] - '0') * 64 + (mp[i + 2] - '0') * 8 + (mp[i + 3] - '0'));
				i += 3;
			} else {
				un[j++] = mp[i];
			}
		}
		un[j] = '\0';
		found = strcmp(un, real) == 0;
	}
	fclose(f);
	return found;
}

/* ------------------------------------------------------------ fixture */

static void setup(void)
{
	umask(0);
	snprintf(home, sizeof(home), "%s/case-%d", suite_home, (int)getpid());
	st_test_rmtree(home);
	ck_assert_msg(mkdir(home, 0700) == 0, "mkdir %s: %s", home, strerror(errno));
	DRV(st_driver_open(drv_name, home, &init_opts, &d, &err));
}

/* Every layer goes, children before parents; what a case leaves mounted is
 * put first. */
static void teardown(void)
{
	for (int round = 0; round < 200; round++) {
		char **ids;
		size_t n;
		struct st_error e;
		if (st_drv_list(d, &ids, &n, &e) < 0 || n == 0)
			break;
		size_t removed = 0;
		for (size_t i = 0; i < n; i++) {
			while (st_drv_mount_count(d, ids[i]) > 0 && st_drv_put(d, ids[i], &e) == 0)
				;
			if (st_drv_remove(d, ids[i], &e) == 0)
				removed++;
			free(ids[i]);
		}
		free(ids);
		if (!removed)
			break;
	}
	st_driver_close(d);
	d = NULL;
	st_test_rmtree(home);
}

/* ------------------------------------------------------------- cases */

START_TEST(test_empty_layer_is_empty_0755_root_dir)
{
	mk("empty", NULL, false);
	mk("empty-rw", NULL, true);
	mk("empty-child", "empty", false);
	const char *ids[] = {"empty", "empty-rw", "empty-child"};
	for (size_t i = 0; i < 3; i++) {
		char *p = get(ids[i]);
		struct stat st;
		ck_assert_int_eq(stat(p, &st), 0);
		ck_assert_msg((st.st_mode & 07777) == 0755, "%s: root mode 0%o, expected 0755", ids[i],
			      st.st_mode & 07777);
		ck_assert_msg(st.st_uid == 0 && st.st_gid == 0, "%s: root owned by %u:%u", ids[i], st.st_uid,
			      st.st_gid);
		char *s = snap_tree(p, 0);
		ck_assert_msg(s[0] == '\0', "%s: not empty:\n%s", ids[i], s);
		free(s);
		put(ids[i]);
		ck_assert(st_drv_exists(d, ids[i]));
	}
	ck_assert(!st_drv_exists(d, "never-made"));
	ck_assert_int_eq(st_drv_diff_size(d, "empty", NULL, &err), 0);
}
END_TEST

static void fill_base(const char *root)
{
	mkd(root, "a subdir", 01705);
	own(root, "a subdir", 1, 2);
	chm(root, "a subdir", 01705);
	wfile(root, "a file", "Some data", 0222 | S_ISUID);
}

static void verify_base(const char *id)
{
	char *p = get(id);
	ck_mode(p, "a subdir", S_IFDIR, 01705, 1, 2);
	ck_mode(p, "a file", S_IFREG, 04222, 0, 0);
	ck_content(p, "a file", "Some data");
	put(id);
}

START_TEST(test_base_sticky_dir_and_setuid_file_survive_into_child)
{
	make_layer("base", NULL, fill_base);
	verify_base("base");
	mk("snap", "base", false);
	verify_base("snap");
	mk("snap-rw", "snap", true);
	verify_base("snap-rw");
	/* the child's root is its parent's: 0755 root:root */
	char *p = get("snap-rw");
	struct stat st;
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0755);
	put("snap-rw");
}
END_TEST

START_TEST(test_file_at_bottom_of_128_layer_chain_readable_at_top)
{
	char id[32], prev[32];
	mk("layer-0", NULL, true);
	char *p = get("layer-0");
	wfile(p, "bottom", "from the bottom layer\n", 0644);
	put("layer-0");
	commit("layer-0");
	for (int i = 1; i < 128; i++) {
		snprintf(prev, sizeof(prev), "layer-%d", i - 1);
		snprintf(id, sizeof(id), "layer-%d", i);
		mk(id, prev, true);
		p = get(id);
		char name[32], content[32];
		snprintf(name, sizeof(name), "file-%d", i);
		snprintf(content, sizeof(content), "layer %d\n", i);
		wfile(p, name, content, 0644);
		put(id);
		commit(id);
	}
	p = get("layer-127");
	ck_content(p, "bottom", "from the bottom layer\n");
	for (int i = 1; i < 128; i++) {
		char name[32], content[32];
		snprintf(name, sizeof(name), "file-%d", i);
		snprintf(content, sizeof(content), "layer %d\n", i);
		ck_content(p, name, content);
	}
	put("layer-127");
	/* and through a read-only child of the top, as an image's container sees it */
	mk("top-ro", "layer-127", false);
	p = get("top-ro");
	ck_content(p, "bottom", "from the bottom layer\n");
	put("top-ro");
}
END_TEST

static void fill_tree(const char *root)
{
	wfile(root, "keep.txt", "keep\n", 0644);
	wfile(root, "change.txt", "before\n", 0644);
	wfile(root, "del.txt", "delete me\n", 0600);
	mkd(root, "dir_del", 0755);
	wfile(root, "dir_del/f1", "f1\n", 0644);
	mkd(root, "dir_del/sub", 0700);
	wfile(root, "dir_del/sub/f2", "f2\n", 0644);
	mkd(root, "dir_keep", 0755);
	wfile(root, "dir_keep/x", "x\n", 0644);
	mkd(root, "dir_replace", 0755);
	wfile(root, "dir_replace/old", "old\n", 0644);
	wfile(root, "file_to_dir", "becomes a directory\n", 0644);
}

static void modify_tree(const char *root)
{
	wfile(root, "change.txt", "after, and longer\n", 0644);
	rm(root, "del.txt");
	rm(root, "dir_del");
	wfile(root, "new.txt", "new\n", 0640);
	mkd(root, "newdir", 0750);
	mkd(root, "newdir/deeper", 0755);
	wfile(root, "newdir/deeper/n.txt", "n\n", 0644);
	wfile(root, "dir_keep/added", "added\n", 0644);
	rm(root, "dir_replace/old");
	wfile(root, "dir_replace/new", "new in an old dir\n", 0644);
	rm(root, "file_to_dir");
	mkd(root, "file_to_dir", 0711);
	wfile(root, "file_to_dir/inside", "inside\n", 0644);
	chm(root, "keep.txt", 0600);
}

START_TEST(test_diff_reapplied_on_fresh_child_reproduces_layer)
{
	make_layer("base", NULL, fill_tree);
	mk("layer", "base", true);
	char *p = get("layer");
	modify_tree(p);
	put("layer");

	struct tt_buf tar;
	diff_layer("layer", NULL, &tar);
	int64_t dsize = st_drv_diff_size(d, "layer", NULL, &err);
	ck_assert_msg(dsize >= 0, "diff-size: %s", err.msg);
	mk("fresh", "base", false);
	int64_t applied = apply_layer("fresh", "base", &tar);
	ck_assert_msg(applied == dsize, "applied %lld bytes, diff-size says %lld", (long long)applied,
		      (long long)dsize);

	int flags = SNAP_ROOT | SNAP_MTIME;
	char *want = layer_snap("layer", flags), *got = layer_snap("fresh", flags);
	ck_assert_snap_eq(want, got, "the layer and its diff applied on a fresh child of its parent");
	p = get("fresh");
	ck_assert(!exists(p, "del.txt"));
	ck_assert(!exists(p, "dir_del"));
	ck_assert(!exists(p, "dir_replace/old"));
	ck_assert(exists(p, "dir_keep/x"));
	ck_mode(p, "file_to_dir", S_IFDIR, 0711, 0, 0);
	put("fresh");
	/* both report the same changes against the parent */
	char *c1 = changes_text("layer", NULL), *c2 = changes_text("fresh", NULL);
	ck_assert_msg(strcmp(c1, c2) == 0, "changes differ:\nlayer:\n%s\nfresh:\n%s", c1, c2);
	/* and the parent did not change */
	p = get("base");
	ck_assert(exists(p, "del.txt") && exists(p, "dir_del/sub/f2"));
	ck_content(p, "change.txt", "before\n");
	put("base");
	free(want);
	free(got);
	free(c1);
	free(c2);
	tt_buf_free(&tar);
}
END_TEST

static void fill_changes_base(const char *root)
{
	mkd(root, "a", 0755);
	mkd(root, "a/b", 0755);
	wfile(root, "a/b/file", "one", 0644);
	set_mtime(root, "a/b/file", 1500000000);
	wfile(root, "a/other", "x", 0644);
	wfile(root, "same.txt", "same", 0644);
	wfile(root, "mod.txt", "12345", 0644);
	wfile(root, "chm.txt", "c", 0644);
	wfile(root, "del.txt", "d", 0644);
	mkd(root, "deldir", 0755);
	wfile(root, "deldir/x", "x", 0644);
	mkd(root, "deldir/sub", 0755);
	wfile(root, "deldir/sub/y", "y", 0644);
	mkd(root, "keepdir", 0755);
	wfile(root, "keepdir/k", "k", 0644);
}

START_TEST(test_changes_list_exactly_what_changed)
{
	make_layer("base", NULL, fill_changes_base);
	mk("layer", "base", true);
	char *p = get("layer");
	/* same size, same mtime, other bytes: only the content tells */
	wfile(p, "a/b/file", "two", 0644);
	set_mtime(p, "a/b/file", 1500000000);
	wfile(p, "mod.txt", "123456", 0644);
	chm(p, "chm.txt", 0600);
	rm(p, "del.txt");
	rm(p, "deldir");
	mkd(p, "new", 0755);
	mkd(p, "new/sub", 0755);
	wfile(p, "new/sub/n", "n", 0644);
	wfile(p, "keepdir/added", "added", 0644);
	put("layer");
	const char *want = "C /a\n"
			   "C /a/b\n"
			   "C /a/b/file\n"
			   "C /chm.txt\n"
			   "D /del.txt\n"
			   "D /deldir\n"
			   "C /keepdir\n"
			   "A /keepdir/added\n"
			   "C /mod.txt\n"
			   "A /new\n"
			   "A /new/sub\n"
			   "A /new/sub/n\n";
	ck_changes("layer", NULL, want);
	/* the same with the parent named */
	ck_changes("layer", "base", want);
	/* a layer with no parent: everything is added */
	ck_changes("base", NULL,
		   "A /a\nA /a/b\nA /a/b/file\nA /a/other\nA /chm.txt\nA /del.txt\nA /deldir\nA /deldir/sub\n"
		   "A /deldir/sub/y\nA /deldir/x\nA /keepdir\nA /keepdir/k\nA /mod.txt\nA /same.txt\n");
	/* an untouched child has no changes */
	mk("untouched", "base", false);
	ck_changes("untouched", NULL, "");
	ck_assert_int_eq(st_drv_diff_size(d, "untouched", NULL, &err), 0);
}
END_TEST

static void fill_rename_base(const char *root)
{
	wfile(root, "f", "file content\n", 0640);
	mkd(root, "d", 0750);
	wfile(root, "d/x", "x\n", 0644);
	mkd(root, "d/sub", 0755);
	wfile(root, "d/sub/y", "y\n", 0644);
}

START_TEST(test_rename_file_and_directory_from_lower_layer)
{
	make_layer("base", NULL, fill_rename_base);
	mk("layer", "base", true);
	char *p = get("layer");
	mv(p, "f", "f2");
	mv(p, "d", "d2");
	ck_assert(!exists(p, "f") && !exists(p, "d"));
	ck_content(p, "f2", "file content\n");
	ck_content(p, "d2/x", "x\n");
	ck_content(p, "d2/sub/y", "y\n");
	ck_mode(p, "d2", S_IFDIR, 0750, 0, 0);
	ck_mode(p, "f2", S_IFREG, 0640, 0, 0);
	put("layer");
	ck_changes("layer", NULL, "D /d\nA /d2\nA /d2/sub\nA /d2/sub/y\nA /d2/x\nD /f\nA /f2\n");
	/* the lower layer keeps its names */
	p = get("base");
	ck_content(p, "f", "file content\n");
	ck_content(p, "d/sub/y", "y\n");
	put("base");
	/* and the rename travels in the diff */
	struct tt_buf tar;
	diff_layer("layer", NULL, &tar);
	mk("fresh", "base", false);
	apply_layer("fresh", NULL, &tar);
	char *want = layer_snap("layer", SNAP_ROOT | SNAP_MTIME), *got = layer_snap("fresh", SNAP_ROOT | SNAP_MTIME);
	ck_assert_snap_eq(want, got, "a renamed file and directory, diffed and applied");
	/* a committed rename is seen by the layer's children */
	commit("layer");
	mk("child", "layer", false);
	p = get("child");
	ck_assert(!exists(p, "f") && !exists(p, "d"));
	ck_content(p, "d2/sub/y", "y\n");
	put("child");
	free(want);
	free(got);
	tt_buf_free(&tar);
}
END_TEST

static void fill_owned(const char *root)
{
	wfile(root, "owned", "data\n", 0644);
	mkd(root, "dd", 0755);
	wfile(root, "dd/inner", "inner\n", 0644);
	char p[PATH_MAX];
	path_of(p, root, "sym");
	ck_assert_int_eq(symlink("owned", p), 0);
}

START_TEST(test_chown_and_chmod_of_lower_files)
{
	make_layer("base", NULL, fill_owned);
	mk("layer", "base", true);
	char *p = get("layer");
	own(p, "owned", 100, 200);
	chm(p, "owned", 0600);
	own(p, "dd", 5, 6);
	chm(p, "dd", 0700);
	own(p, "sym", 7, 8);
	ck_mode(p, "owned", S_IFREG, 0600, 100, 200);
	ck_mode(p, "dd", S_IFDIR, 0700, 5, 6);
	ck_assert_int_eq(lst(p, "sym").st_uid, 7);
	ck_content(p, "owned", "data\n");
	ck_content(p, "dd/inner", "inner\n");
	put("layer");
	p = get("base");
	ck_mode(p, "owned", S_IFREG, 0644, 0, 0);
	ck_mode(p, "dd", S_IFDIR, 0755, 0, 0);
	ck_assert_int_eq(lst(p, "sym").st_uid, 0);
	put("base");
	ck_changes("layer", NULL, "C /dd\nC /owned\nC /sym\n");
	struct tt_buf tar;
	diff_layer("layer", NULL, &tar);
	mk("fresh", "base", false);
	apply_layer("fresh", NULL, &tar);
	char *want = layer_snap("layer", SNAP_ROOT | SNAP_MTIME), *got = layer_snap("fresh", SNAP_ROOT | SNAP_MTIME);
	ck_assert_snap_eq(want, got, "chown/chmod of lower files, diffed and applied");
	free(want);
	free(got);
	tt_buf_free(&tar);
}
END_TEST

static void fill_perms1(const char *root)
{
	mkd(root, "dir1", 0700);
	mkd(root, "dir2", 0700);
	own(root, "dir2", 1, 2);
	mkd(root, "tmp", 01777);
	mkd(root, "setgid", 02755);
	own(root, "setgid", 3, 4);
	chm(root, "setgid", 02755);
}

static void fill_perms2(const char *root)
{
	mkd(root, "dir3", 0700);
	own(root, "dir3", 1, 2);
	chm(root, "dir1", 0711);
}

START_TEST(test_directory_permissions_kept_on_commit)
{
	make_layer("l1", NULL, fill_perms1);
	char *p = get("l1");
	ck_mode(p, "dir1", S_IFDIR, 0700, 0, 0);
	ck_mode(p, "dir2", S_IFDIR, 0700, 1, 2);
	ck_mode(p, "tmp", S_IFDIR, 01777, 0, 0);
	ck_mode(p, "setgid", S_IFDIR, 02755, 3, 4);
	put("l1");
	make_layer("l2", "l1", fill_perms2);
	p = get("l2");
	ck_mode(p, "dir1", S_IFDIR, 0711, 0, 0);
	ck_mode(p, "dir2", S_IFDIR, 0700, 1, 2);
	ck_mode(p, "dir3", S_IFDIR, 0700, 1, 2);
	ck_mode(p, "tmp", S_IFDIR, 01777, 0, 0);
	put("l2");
	p = get("l1");
	ck_mode(p, "dir1", S_IFDIR, 0700, 0, 0);
	ck_assert(!exists(p, "dir3"));
	put("l1");
	mk("l3", "l2", true);
	p = get("l3");
	ck_mode(p, "dir1", S_IFDIR, 0711, 0, 0);
	ck_mode(p, "dir3", S_IFDIR, 0700, 1, 2);
	ck_mode(p, "setgid", S_IFDIR, 02755, 3, 4);
	put("l3");
	ck_assert(!st_drv_is_rw(d, "l2"));
	ck_assert(st_drv_is_rw(d, "l3"));
}
END_TEST

static void fill_gone(const char *root)
{
	mkd(root, "gone", 0755);
	wfile(root, "gone/a", "a\n", 0644);
	mkd(root, "gone/sub", 0755);
	wfile(root, "gone/sub/b", "b\n", 0644);
	wfile(root, "keep", "keep\n", 0644);
}

static void delete_gone(const char *root)
{
	rm(root, "gone");
}

START_TEST(test_delete_directory_that_exists_in_lower_layer)
{
	make_layer("base", NULL, fill_gone);
	make_layer("deleted", "base", delete_gone);
	ck_changes("deleted", NULL, "D /gone\n");
	char *p = get("deleted");
	ck_assert(!exists(p, "gone"));
	ck_content(p, "keep", "keep\n");
	put("deleted");
	p = get("base");
	ck_content(p, "gone/sub/b", "b\n");
	put("base");
	/* a directory made again above the deletion is new and empty */
	mk("again", "deleted", true);
	p = get("again");
	ck_assert(!exists(p, "gone"));
	mkd(p, "gone", 0755);
	ck_assert(!exists(p, "gone/a") && !exists(p, "gone/sub"));
	wfile(p, "gone/new", "new\n", 0644);
	put("again");
	ck_changes("again", NULL, "A /gone\nA /gone/new\n");
	commit("again");
	mk("top", "again", false);
	p = get("top");
	ck_assert(!exists(p, "gone/a") && !exists(p, "gone/sub"));
	ck_content(p, "gone/new", "new\n");
	put("top");
	/* the deletion as a diff, applied on a fresh child */
	struct tt_buf tar;
	diff_layer("deleted", NULL, &tar);
	mk("fresh", "base", false);
	apply_layer("fresh", NULL, &tar);
	p = get("fresh");
	ck_assert(!exists(p, "gone"));
	put("fresh");
	ck_changes("fresh", NULL, "D /gone\n");
	tt_buf_free(&tar);
}
END_TEST

START_TEST(test_remove_layer_with_children_fails)
{
	make_layer("base", NULL, fill_owned);
	mk("child", "base", false);
	mk("grandchild", "child", true);
	ck_assert_msg(st_drv_remove(d, "base", &err) < 0, "a layer with a child was removed");
	ck_assert_msg(err.msg[0] != '\0', "no error message");
	ck_assert_msg(st_drv_remove(d, "child", &err) < 0, "a layer with a child was removed");
	ck_assert(st_drv_exists(d, "base") && st_drv_exists(d, "child"));
	char *p = get("grandchild");
	ck_content(p, "owned", "data\n");
	put("grandchild");
	DRV(st_drv_remove(d, "grandchild", &err));
	ck_assert(!st_drv_exists(d, "grandchild"));
	DRV(st_drv_remove(d, "child", &err));
	DRV(st_drv_remove(d, "base", &err));
	ck_assert(!st_drv_exists(d, "base") && !st_drv_exists(d, "child"));
	ck_assert_msg(st_drv_remove(d, "base", &err) < 0, "removing a removed layer succeeded");
	char **ids;
	size_t n;
	DRV(st_drv_list(d, &ids, &n, &err));
	ck_assert_int_eq(n, 0);
	free(ids);
	/* the id can be used again */
	mk("base", NULL, false);
	ck_assert(st_drv_exists(d, "base"));
}
END_TEST

START_TEST(test_two_mounts_share_one_mount_and_last_unmount_unmounts)
{
	make_layer("base", NULL, fill_owned);
	mk("rw", "base", true);
	char p1[PATH_MAX], p2[PATH_MAX];
	DRV(st_drv_get(d, "rw", p1, sizeof(p1), &err));
	bool real_mount = in_mountinfo(p1);
	DRV(st_drv_get(d, "rw", p2, sizeof(p2), &err));
	ck_assert_str_eq(p1, p2);
	ck_assert_int_eq(st_drv_mount_count(d, "rw"), 2);
	wfile(p1, "written-by-first", "1\n", 0644);
	ck_content(p2, "written-by-first", "1\n");
	ck_assert_msg(st_drv_remove(d, "rw", &err) < 0, "a mounted layer was removed");
	put("rw");
	ck_assert_int_eq(st_drv_mount_count(d, "rw"), 1);
	if (real_mount)
		ck_assert_msg(in_mountinfo(p1), "the first put unmounted a layer still in use");
	ck_content(p1, "written-by-first", "1\n");
	put("rw");
	ck_assert_int_eq(st_drv_mount_count(d, "rw"), 0);
	if (real_mount)
		ck_assert_msg(!in_mountinfo(p1), "the last put left \"%s\" mounted", p1);
	ck_assert_msg(st_drv_put(d, "rw", &err) < 0, "a put without a get succeeded");
	/* mounted again, the data is there */
	char *p = get("rw");
	ck_content(p, "written-by-first", "1\n");
	put("rw");
	DRV(st_drv_remove(d, "rw", &err));
}
END_TEST

/* Every kind of entry a layer holds. */
static void fill_specials(const char *root)
{
	mkd(root, "hl", 0755);
	wfile(root, "hl/a", "linked content\n", 0644);
	char a[PATH_MAX], b[PATH_MAX];
	path_of(a, root, "hl/a");
	path_of(b, root, "hl/b");
	ck_assert_int_eq(link(a, b), 0);
	mkd(root, "other", 0755);
	path_of(b, root, "other/c");
	ck_assert_int_eq(link(a, b), 0);

	mkd(root, "x", 0755);
	wfile(root, "x/file", "xattrs\n", 0644);
	path_of(a, root, "x/file");
	ck_assert_int_eq(lsetxattr(a, "user.test", "bin\0ary\xff", 8, 0), 0);
	ck_assert_int_eq(lsetxattr(a, "user.empty", "", 0, 0), 0);
	path_of(a, root, "x");
	ck_assert_int_eq(lsetxattr(a, "user.dir", "on a directory", 14, 0), 0);
	wfile(root, "x/cap", "capable\n", 0755);
	path_of(a, root, "x/cap");
	/* vfs_cap_data revision 2: effective, permitted = CAP_NET_BIND_SERVICE */
	const unsigned char cap[20] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0, 0, 0, 0,
				       0,    0,    0,    0,    0,    0,    0,    0};
	ck_assert_msg(lsetxattr(a, "security.capability", cap, sizeof(cap), 0) == 0, "set capability: %s",
		      strerror(errno));

	mkd(root, "links", 0755);
	path_of(a, root, "links/abs");
	ck_assert_int_eq(symlink("/etc/passwd", a), 0);
	path_of(a, root, "links/rel");
	ck_assert_int_eq(symlink("../hl/a", a), 0);
	path_of(a, root, "links/dangling");
	ck_assert_int_eq(symlink("nowhere/at/all", a), 0);

	mkd(root, "dev", 0755);
	path_of(a, root, "dev/fifo");
	ck_assert_int_eq(mknod(a, S_IFIFO | 0620, 0), 0);
	path_of(a, root, "dev/null-like");
	ck_assert_int_eq(mknod(a, S_IFCHR | 0666, makedev(1, 3)), 0);
	path_of(a, root, "dev/loop-like");
	ck_assert_int_eq(mknod(a, S_IFBLK | 0660, makedev(7, 0)), 0);

	path_of(a, root, "sparse");
	int fd = open(a, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 8 << 20), 0);
	ck_assert_int_eq(pwrite(fd, "data in the middle", 18, 3 << 20), 18);
	close(fd);
	set_mtime(root, "sparse", 1600000000);
	wfile(root, "empty", "", 0600);
}

static void ck_specials(const char *id)
{
	char *p = get(id);
	struct stat a = lst(p, "hl/a"), b = lst(p, "hl/b"), c = lst(p, "other/c");
	ck_assert_msg(a.st_ino == b.st_ino && a.st_ino == c.st_ino && a.st_nlink == 3,
		      "%s: hardlinks not kept (nlink %u)", id, (unsigned)a.st_nlink);
	struct stat s = lst(p, "sparse");
	ck_assert_int_eq(s.st_size, 8 << 20);
	ck_assert_msg((int64_t)s.st_blocks * 512 < (1 << 20), "%s: sparse file takes %lld bytes", id,
		      (long long)s.st_blocks * 512);
	char path[PATH_MAX], cap[64];
	path_of(path, p, "x/cap");
	ck_assert_int_eq(lgetxattr(path, "security.capability", cap, sizeof(cap)), 20);
	ck_assert_int_eq(S_ISCHR(lst(p, "dev/null-like").st_mode), 1);
	ck_assert_int_eq(lst(p, "dev/null-like").st_rdev, makedev(1, 3));
	ck_assert_int_eq(S_ISBLK(lst(p, "dev/loop-like").st_mode), 1);
	ck_assert_int_eq(S_ISFIFO(lst(p, "dev/fifo").st_mode), 1);
	put(id);
}

START_TEST(test_special_files_survive_diff_and_apply)
{
	/* as a whole layer (no parent) */
	make_layer("specials", NULL, fill_specials);
	ck_specials("specials");
	struct tt_buf tar;
	diff_layer("specials", "", &tar);
	int64_t dsize = st_drv_diff_size(d, "specials", "", &err);
	mk("fresh", NULL, false);
	int64_t applied = apply_layer("fresh", "", &tar);
	ck_assert_msg(applied == dsize, "applied %lld, diff-size %lld", (long long)applied, (long long)dsize);
	int flags = SNAP_ROOT | SNAP_MTIME | SNAP_SPARSE;
	char *want = layer_snap("specials", flags), *got = layer_snap("fresh", flags);
	ck_assert_snap_eq(want, got, "special files: the layer and its diff applied to an empty layer");
	ck_specials("fresh");
	free(want);
	free(got);
	tt_buf_free(&tar);

	/* and as a change on top of a parent */
	make_layer("base", NULL, fill_owned);
	mk("layer", "base", true);
	char *p = get("layer");
	fill_specials(p);
	put("layer");
	diff_layer("layer", NULL, &tar);
	dsize = st_drv_diff_size(d, "layer", NULL, &err);
	mk("fresh2", "base", false);
	applied = apply_layer("fresh2", "base", &tar);
	ck_assert_msg(applied == dsize, "applied %lld, diff-size %lld", (long long)applied, (long long)dsize);
	want = layer_snap("layer", flags);
	got = layer_snap("fresh2", flags);
	ck_assert_snap_eq(want, got, "special files: a child layer and its diff applied on a fresh child");
	ck_specials("fresh2");
	free(want);
	free(got);
	tt_buf_free(&tar);
}
END_TEST

/* One level of the chain: overwrite, add, remove files and directories,
 * change a mode; the same on the layer and on the flat copy. */
static void chain_ops(const char *root, int i)
{
	char name[64], content[64];
	snprintf(name, sizeof(name), "f%d.txt", i % 10);
	snprintf(content, sizeof(content), "level %d writes %s\n", i, name);
	wfile(root, name, content, 0644);
	set_mtime(root, name, 1600000000 + i);
	if (i == 1)
		mkd(root, "add", 0755);
	snprintf(name, sizeof(name), "add/%d.txt", i);
	wfile(root, name, content, 0644);
	set_mtime(root, name, 1600000000 + i);
	if (i > 3) {
		snprintf(name, sizeof(name), "add/%d.txt", i - 3);
		rm(root, name);
	}
	if (i % 8 == 0) {
		snprintf(name, sizeof(name), "d%d", i);
		mkd(root, name, 0750);
		snprintf(name, sizeof(name), "d%d/x", i);
		wfile(root, name, content, 0600);
		set_mtime(root, name, 1600000000 + i);
	}
	if (i % 8 == 4 && i > 8) {
		snprintf(name, sizeof(name), "d%d", i - 4);
		rm(root, name);
	}
	if (i % 5 == 0) {
		snprintf(name, sizeof(name), "f%d.txt", (i + 1) % 10);
		if (exists(root, name))
			chm(root, name, (i / 5) % 2 ? 0600 : 0644);
	}
}

START_TEST(test_128_layer_chain_matches_flat_copies)
{
	char flat[PATH_MAX];
	snprintf(flat, sizeof(flat), "%s/flat", home);
	ck_assert_int_eq(mkdir(flat, 0755), 0);
	ck_assert_int_eq(chmod(flat, 0755), 0);
	int flags = SNAP_ROOT | SNAP_MTIME;
	char *expect[129] = {0};
	char id[32], prev[32];
	for (int i = 1; i <= 128; i++) {
		snprintf(id, sizeof(id), "level-%d", i);
		snprintf(prev, sizeof(prev), "level-%d", i - 1);
		mk(id, i > 1 ? prev : NULL, true);
		char *p = get(id);
		chain_ops(p, i);
		put(id);
		commit(id);
		chain_ops(flat, i);
		expect[i] = snap_tree(flat, flags);
		char *got = layer_snap(id, flags);
		char msg[64];
		snprintf(msg, sizeof(msg), "level %d against its flat copy", i);
		ck_assert_snap_eq(expect[i], got, msg);
		free(got);
	}
	/* no level changed while its children were made */
	for (int i = 1; i <= 128; i++) {
		snprintf(id, sizeof(id), "level-%d", i);
		char *got = layer_snap(id, flags);
		char msg[64];
		snprintf(msg, sizeof(msg), "level %d after all 128 were made", i);
		ck_assert_snap_eq(expect[i], got, msg);
		free(got);
		free(expect[i]);
	}
}
END_TEST

START_TEST(test_invalid_ids_and_unknown_options_rejected)
{
	const char *bad[] = {"", "../x", "a/b", ".hidden", "-dash", "sp ace"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(st_drv_create(d, bad[i], NULL, false, NULL, &err) < 0, "id \"%s\" accepted", bad[i]);
	mk("ok", NULL, false);
	ck_assert_msg(st_drv_create(d, "ok", NULL, false, NULL, &err) < 0, "a second layer \"ok\" was made");
	ck_assert_msg(st_drv_create(d, "orphan", "no-such-parent", false, NULL, &err) < 0,
		      "a layer with a missing parent was made");
	ck_assert(!st_drv_exists(d, "orphan"));
	struct st_kvlist o = {0};
	st_kvlist_add(&o, "no-such-option", "1");
	ck_assert_msg(st_drv_create(d, "opt", NULL, true, &o, &err) < 0, "an unknown layer option was accepted");
	st_kvlist_free(&o);
	ck_assert(!st_drv_exists(d, "opt"));
}
END_TEST

/* --------------------------------------------------------------- main */

/* After a failed case (Check does not run its teardown), unmount whatever
 * is left below our homes, so that the driver's env teardown can go on. */
static void unmount_leftovers(void)
{
	for (int round = 0; round < 10; round++) {
		FILE *f = fopen("/proc/self/mountinfo", "re");
		if (!f)
			return;
		char line[8192], victim[PATH_MAX] = "";
		size_t plen = strlen(suite_home);
		while (fgets(line, sizeof(line), f)) {
			char mp[PATH_MAX];
			if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 && strncmp(mp, suite_home, plen) == 0 &&
			    strncmp(mp + plen, "/case-", 6) == 0)
				snprintf(victim, sizeof(victim), "%s", mp);
		}
		fclose(f);
		if (!victim[0])
			return;
		umount2(victim, MNT_DETACH);
	}
}

int main(void)
{
	drv_name = getenv("STRATA_TEST_DRIVER");
	if (!drv_name || !*drv_name)
		drv_name = "vfs";
	const char *h = getenv("STRATA_TEST_HOME");
	if (h && *h) {
		suite_home = realpath(h, NULL);
		if (!suite_home) {
			fprintf(stderr, "STRATA_TEST_HOME=%s: %s\n", h, strerror(errno));
			return 2;
		}
	} else {
		suite_home = st_test_mkdtemp("conformance");
		suite_home_made = true;
	}
	const char *opts = getenv("STRATA_TEST_DRIVER_OPTS");
	if (opts && *opts) {
		char *copy = strdup(opts), *save = NULL;
		for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
			struct st_error e;
			if (st_kvlist_parse(&init_opts, kv, &e) < 0) {
				fprintf(stderr, "STRATA_TEST_DRIVER_OPTS: %s\n", e.msg);
				return 2;
			}
		}
		free(copy);
	}
	printf("conformance: driver %s, home %s\n", drv_name, suite_home);
	fflush(stdout);

	Suite *s = suite_create("conformance");
	TCase *tc = tcase_create(drv_name);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_empty_layer_is_empty_0755_root_dir);
	tcase_add_test(tc, test_base_sticky_dir_and_setuid_file_survive_into_child);
	tcase_add_test(tc, test_file_at_bottom_of_128_layer_chain_readable_at_top);
	tcase_add_test(tc, test_diff_reapplied_on_fresh_child_reproduces_layer);
	tcase_add_test(tc, test_changes_list_exactly_what_changed);
	tcase_add_test(tc, test_rename_file_and_directory_from_lower_layer);
	tcase_add_test(tc, test_chown_and_chmod_of_lower_files);
	tcase_add_test(tc, test_directory_permissions_kept_on_commit);
	tcase_add_test(tc, test_delete_directory_that_exists_in_lower_layer);
	tcase_add_test(tc, test_remove_layer_with_children_fails);
	tcase_add_test(tc, test_two_mounts_share_one_mount_and_last_unmount_unmounts);
	tcase_add_test(tc, test_special_files_survive_diff_and_apply);
	tcase_add_test(tc, test_128_layer_chain_matches_flat_copies);
	tcase_add_test(tc, test_invalid_ids_and_unknown_options_rejected);
	suite_add_tcase(s, tc);
	int rc = st_test_main(s);
	unmount_leftovers();
	st_test_sh("rm -rf --one-file-system '%s'/case-*", suite_home);
	if (suite_home_made)
		st_test_rmtree(suite_home);
	st_kvlist_free(&init_opts);
	free(suite_home);
	return rc;
}
