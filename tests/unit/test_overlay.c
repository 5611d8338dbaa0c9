/* The overlay driver on this machine's kernel: overlay2 layout, read-only
 * committed layers, whiteout and opaque conversion both ways, renamed lower
 * directories, the native-diff fallback, 500-layer chains with both mount
 * APIs, removal without leftover mounts (also after a kill -9), commit in
 * place, and the probe's refusals. Quotas are in test_overlay_quota.c. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <json-c/json.h>

#include "base/base.h"
#include "../../drivers/overlay/overlay.h"
#include "snap.h"
#include "tartest.h"
#include "testlib.h"

/* --------------------------------------------------------------- helpers */

static char *tmp;

static void setup(void)
{
	tmp = st_test_mkdtemp("ovl");
	ck_assert_ptr_nonnull(tmp);
}

static void teardown(void)
{
	/* lazily detach whatever a failed test left mounted under tmp */
	st_test_sh("grep -o ' %s/[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null", tmp);
	st_test_rmtree(tmp);
	free(tmp);
}

static struct st_driver *open_drv(const char *home_rel, const char *opts)
{
	char home[PATH_MAX];
	snprintf(home, sizeof(home), "%s/%s", tmp, home_rel);
	struct st_kvlist kv = {0};
	struct st_error err = {0};
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", opts ? opts : "");
	for (char *save = NULL, *o = strtok_r(buf, ";", &save); o; o = strtok_r(NULL, ";", &save))
		ck_assert_int_eq(st_kvlist_parse(&kv, o, &err), 0);
	struct st_driver *d = NULL;
	int r = st_driver_open("overlay", home, &kv, &d, &err);
	st_kvlist_free(&kv);
	ck_assert_msg(r == 0, "open overlay in %s: %s", home, err.msg);
	return d;
}

static const char *status_of(struct st_driver *d, const char *key, char *buf, size_t len)
{
	struct st_kvlist kv = {0};
	st_drv_status(d, &kv);
	const char *v = st_kvlist_get(&kv, key);
	snprintf(buf, len, "%s", v ? v : "(none)");
	st_kvlist_free(&kv);
	return buf;
}

static void apply_tar(struct st_driver *d, const char *id, struct tt_tar *t)
{
	struct tt_buf b = {0};
	tt_tar_finish(t, &b);
	struct tt_memreader m;
	struct st_error err = {0};
	ST_OK(st_drv_apply(d, id, NULL, tt_memreader(&m, b.data, b.len, 0), &err), &err);
	tt_buf_free(&b);
}

static void create(struct st_driver *d, const char *id, const char *parent, bool rw)
{
	struct st_error err = {0};
	ST_OK(st_drv_create(d, id, parent, rw, NULL, &err), &err);
}

/* base: a/x a/y b/z keep, and d/f d/g (to be renamed) */
static void make_base(struct st_driver *d, const char *id)
{
	create(d, id, NULL, false);
	struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, 0);
	tt_dir(t, "a", 0755);
	tt_file(t, "a/x", 0644, "x");
	tt_file(t, "a/y", 0644, "y");
	tt_dir(t, "b", 0755);
	tt_file(t, "b/z", 0644, "z");
	tt_dir(t, "d", 0755);
	tt_file(t, "d/f", 0644, "f");
	tt_file(t, "d/g", 0644, "g");
	tt_file(t, "keep", 0644, "keep");
	apply_tar(d, id, t);
}

static char *mount_layer(struct st_driver *d, const char *id)
{
	char path[PATH_MAX];
	struct st_error err = {0};
	ST_OK(st_drv_get(d, id, path, sizeof(path), &err), &err);
	return strdup(path);
}

static void put(struct st_driver *d, const char *id)
{
	struct st_error err = {0};
	ST_OK(st_drv_put(d, id, &err), &err);
}

/* The mountinfo line of the mount at path (NULL: none). */
static char *mountinfo_of(const char *path)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char *line = NULL, *found = NULL;
	size_t cap = 0;
	while (f && getline(&line, &cap, f) > 0) {
		char mp[PATH_MAX];
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 && strcmp(mp, path) == 0) {
			free(found);
			found = strdup(line);
		}
	}
	free(line);
	if (f)
		fclose(f);
	return found;
}

static void ck_file_eq(const char *root, const char *rel, const char *want)
{
	char *got = st_test_read(root, rel);
	ck_assert_msg(got && strcmp(got, want) == 0, "%s/%s: \"%s\", want \"%s\"", root, rel, got ? got : "(none)", want);
	free(got);
}

static bool mountinfo_has(const char *path)
{
	char *mi = mountinfo_of(path);
	bool found = mi != NULL;
	free(mi);
	return found;
}

static bool mounted_under(const char *dir)
{
	return st_test_sh("grep -q ' %s/' /proc/self/mountinfo", dir) == 0;
}

static char *diff_list(struct st_driver *d, const char *id, struct tt_buf *raw)
{
	struct tt_memwriter w;
	struct st_error err = {0};
	ST_OK(st_drv_diff(d, id, NULL, tt_memwriter(&w), &err), &err);
	char *list = tt_tar_list(w.buf.data, w.buf.len);
	if (raw)
		*raw = w.buf;
	else
		tt_buf_free(&w.buf);
	return list;
}

static char *changes_text(struct st_driver *d, const char *id)
{
	struct st_changes c = {0};
	struct st_error err = {0};
	ST_OK(st_drv_changes(d, id, NULL, &c, &err), &err);
	struct tt_buf b = {0};
	for (size_t i = 0; i < c.n; i++) {
		char line[PATH_MAX + 4];
		int n = snprintf(line, sizeof(line), "%c %s\n", c.v[i].kind, c.v[i].path);
		tt_buf_add(&b, line, (size_t)n);
	}
	tt_buf_add(&b, "", 1);
	st_changes_free(&c);
	return (char *)b.data;
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

static bool is_whiteout_at(const char *dir, const char *rel)
{
	char p[PATH_MAX];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	return lstat(p, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
}

static bool opaque_at(const char *dir, const char *rel)
{
	char p[PATH_MAX], v[4];
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	return lgetxattr(p, "trusted.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y';
}

static char *layer_path(const char *home_rel, const char *id, const char *sub)
{
	char *p = NULL;
	ck_assert_int_ge(asprintf(&p, "%s/%s/%s%s%s", tmp, home_rel, id, sub ? "/" : "", sub ? sub : ""), 0);
	return p;
}

/* ------------------------------------------------------------ layout */

START_TEST(test_overlay_status_reports_native_diff_and_mount_api)
{
	struct st_driver *d = open_drv("h", NULL);
	char buf[256];
	ck_assert_str_eq(status_of(d, "Native Overlay Diff", buf, sizeof(buf)), "true");
	ck_assert_str_eq(status_of(d, "Max Layers", buf, sizeof(buf)), "500");
	/* this kernel (6.8+) has lowerdir+; the probe must have found it */
	if (st_test_sh("uname -r | awk -F. '{exit !($1>6 || ($1==6 && $2>=8))}'") == 0)
		ck_assert_str_eq(status_of(d, "Mount API", buf, sizeof(buf)), "mount(2), fsconfig lowerdir+ past one page");
	st_driver_close(d);
	d = open_drv("h", "mount_api=legacy");
	ck_assert_str_eq(status_of(d, "Mount API", buf, sizeof(buf)), "mount(2), short relative paths past one page");
	st_driver_close(d);
	/* no test directories left in the home */
	ck_assert_int_ne(st_test_sh("ls -a %s/h | grep -q ovl-check", tmp), 0);
}
END_TEST

START_TEST(test_overlay_layout_is_overlay2s)
{
	struct st_driver *d = open_drv("h", NULL);
	make_base(d, "base");
	create(d, "mid", "base", false);
	create(d, "top", "mid", true);
	char *blink = st_test_read(tmp, "h/base/link"), *mlink = st_test_read(tmp, "h/mid/link");
	ck_assert_ptr_nonnull(blink);
	ck_assert_ptr_nonnull(mlink);
	ck_assert_uint_eq(strlen(blink), OVL_LINK_LEN + 1);
	blink[OVL_LINK_LEN] = mlink[OVL_LINK_LEN] = '\0';
	char rel[64], target[PATH_MAX], want[PATH_MAX];
	snprintf(rel, sizeof(rel), "%s/h/l/%s", tmp, blink);
	ssize_t n = readlink(rel, target, sizeof(target) - 1);
	ck_assert_int_gt(n, 0);
	target[n] = '\0';
	ck_assert_str_eq(target, "../base/diff");
	ck_assert(!st_test_exists(tmp, "h/base/lower"));
	char *mlower = st_test_read(tmp, "h/mid/lower"), *tlower = st_test_read(tmp, "h/top/lower");
	snprintf(want, sizeof(want), "l/%s\n", blink);
	ck_assert_str_eq(mlower, want);
	snprintf(want, sizeof(want), "l/%s:l/%s\n", mlink, blink);
	ck_assert_str_eq(tlower, want);
	/* work/ only for the read-write layer, merged/ only with a parent */
	ck_assert(st_test_exists(tmp, "h/top/work") && !st_test_exists(tmp, "h/mid/work"));
	ck_assert(st_test_exists(tmp, "h/mid/merged") && !st_test_exists(tmp, "h/base/merged"));
	struct stat st;
	snprintf(want, sizeof(want), "%s/h/top", tmp);
	ck_assert_int_eq(stat(want, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	free(blink);
	free(mlink);
	free(mlower);
	free(tlower);
	/* "l" is the link directory, never a layer */
	struct st_error err = {0};
	ck_assert_int_lt(st_drv_create(d, "l", NULL, false, NULL, &err), 0);
	ck_assert(!st_drv_exists(d, "l"));
	st_driver_close(d);
}
END_TEST

START_TEST(test_overlay_committed_layer_mounts_readonly_without_upper)
{
	struct st_driver *d = open_drv("h", NULL);
	make_base(d, "base");
	create(d, "mid", "base", false);
	create(d, "top", "mid", true);
	char *pb = mount_layer(d, "base"), *pm = mount_layer(d, "mid"), *pt = mount_layer(d, "top");
	/* a layer without a parent is its directory, no mount */
	ck_assert(st_str_has_suffix(pb, "/base/diff"));
	ck_assert(!mountinfo_has(pb));
	char *mi = mountinfo_of(pm);
	ck_assert_ptr_nonnull(mi);
	ck_assert_msg(!strstr(mi, "upperdir") && strstr(mi, " ro,"), "committed layer mount: %s", mi);
	free(mi);
	mi = mountinfo_of(pt);
	ck_assert_ptr_nonnull(mi);
	ck_assert_msg(strstr(mi, "upperdir=") && strstr(mi, " rw,"), "read-write layer mount: %s", mi);
	free(mi);
	ck_file_eq(pm, "a/x", "x");
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/new", pm);
	ck_assert_int_lt(open(p, O_CREAT | O_WRONLY, 0644), 0);
	ck_assert_int_eq(errno, EROFS);
	/* two users share one mount */
	char *pm2 = mount_layer(d, "mid");
	ck_assert_str_eq(pm, pm2);
	ck_assert_int_eq(st_drv_mount_count(d, "mid"), 2);
	put(d, "mid");
	ck_assert(mountinfo_has(pm));
	put(d, "mid");
	ck_assert(!mountinfo_has(pm));
	put(d, "top");
	put(d, "base");
	ck_assert(!mounted_under(tmp));
	free(pb);
	free(pm);
	free(pm2);
	free(pt);
	st_driver_close(d);
}
END_TEST

/* -------------------------------------------------------- whiteouts */

START_TEST(test_overlay_apply_turns_oci_whiteouts_into_devices_and_opaque_xattrs)
{
	struct st_driver *d = open_drv("h", NULL);
	make_base(d, "base");
	create(d, "l1", "base", false);
	struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, 0);
	tt_file(t, ".wh.keep", 0644, "");
	tt_dir(t, "a", 0755);
	tt_file(t, "a/.wh..wh..opq", 0644, "");
	tt_file(t, "a/new", 0644, "new");
	tt_dir(t, "b", 0755);
	tt_file(t, "b/.wh.z", 0644, "");
	/* whiteout and new directory of the same name: the new one hides the old */
	tt_file(t, ".wh.d", 0644, "");
	tt_dir(t, "d", 0755);
	tt_file(t, "d/h", 0644, "h");
	apply_tar(d, "l1", t);
	char *diff = layer_path("h", "l1", "diff");
	ck_assert(is_whiteout_at(diff, "keep"));
	ck_assert(is_whiteout_at(diff, "b/z"));
	ck_assert(opaque_at(diff, "a"));
	ck_assert(!opaque_at(diff, "b"));
	ck_assert(opaque_at(diff, "d"));
	ck_assert(!st_test_exists(diff, ".wh.keep") && !st_test_exists(diff, "a/.wh..wh..opq"));
	char *m = mount_layer(d, "l1");
	char *snap = snap_tree(m, 0);
	ck_assert_msg(!strstr(snap, "keep") && !strstr(snap, "a/x") && !strstr(snap, "b/z") && strstr(snap, "a/new") &&
			      !strstr(snap, "d/f") && strstr(snap, "d/h"),
		      "merged view:\n%s", snap);
	free(snap);
	put(d, "l1");
	/* and back: the same OCI entries */
	char *list = diff_list(d, "l1", NULL);
	ck_assert_msg(has_line(list, "f .wh.keep") && has_line(list, "f a/.wh..wh..opq") && has_line(list, "f b/.wh.z") &&
			      has_line(list, "f a/new") && has_line(list, "f d/.wh..wh..opq") && has_line(list, "f d/h"),
		      "diff:\n%s", list);
	ck_assert_msg(!strstr(list, "f keep") && !strstr(list, "c "), "diff:\n%s", list);
	free(list);
	/* overlay's private xattrs in a tar are refused */
	create(d, "bad", "base", false);
	t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, 0);
	struct tt_attr a = {.xattr_name = {"trusted.overlay.opaque"}, .xattr_val = {"y"}, .xattr_len = {1}};
	tt_dir_attr(t, "a", 0755, &a);
	struct tt_buf b = {0};
	tt_tar_finish(t, &b);
	struct tt_memreader mr;
	struct st_error err = {0};
	ck_assert_int_lt(st_drv_apply(d, "bad", NULL, tt_memreader(&mr, b.data, b.len, 0), &err), 0);
	tt_buf_free(&b);
	free(diff);
	free(m);
	st_driver_close(d);
}
END_TEST

START_TEST(test_overlay_diff_turns_devices_and_opaque_dirs_into_oci_whiteouts)
{
	struct st_driver *d = open_drv("h", NULL);
	make_base(d, "base");
	create(d, "rw", "base", true);
	char *m = mount_layer(d, "rw");
	ck_assert_int_eq(st_test_sh("cd %s && rm keep b/z && rm -r a && mkdir a && echo n > a/n && echo q > new", m), 0);
	char *diff = layer_path("h", "rw", "diff");
	ck_assert(is_whiteout_at(diff, "keep") && opaque_at(diff, "a"));
	struct tt_buf raw;
	char *list = diff_list(d, "rw", &raw);
	ck_assert_msg(has_line(list, "f .wh.keep") && has_line(list, "d a/") && has_line(list, "f a/.wh..wh..opq") &&
			      has_line(list, "f a/n") && has_line(list, "f b/.wh.z") && has_line(list, "f new"),
		      "diff:\n%s", list);
	ck_assert_msg(!strstr(list, "c ") && !strstr(list, "f keep") && !strstr(list, "a/x"), "diff:\n%s", list);
	/* overlay's own xattrs (opaque, origin, impure) never leave in a tar */
	ck_assert_ptr_null(memmem(raw.data, raw.len, "trusted.overlay", 15));
	char *ch = changes_text(d, "rw");
	ck_assert_str_eq(ch, "C /a\nA /a/n\nD /a/x\nD /a/y\nC /b\nD /b/z\nD /keep\nA /new\n");
	free(ch);
	/* the tar applied on the same parent gives the same tree */
	create(d, "copy", "base", false);
	struct tt_memreader mr;
	struct st_error err = {0};
	ST_OK(st_drv_apply(d, "copy", NULL, tt_memreader(&mr, raw.data, raw.len, 0), &err), &err);
	char *mc = mount_layer(d, "copy");
	char *s1 = snap_tree(m, 0), *s2 = snap_tree(mc, 0);
	ck_assert_snap_eq(s1, s2, "rw layer vs its diff applied");
	put(d, "copy");
	put(d, "rw");
	free(s1);
	free(s2);
	free(mc);
	free(list);
	tt_buf_free(&raw);
	free(diff);
	free(m);
	st_driver_close(d);
}
END_TEST

/* Size of the tar entry named name, -1 when absent. */
static int64_t tar_entry_size(const struct tt_buf *b, const char *name)
{
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	ck_assert_int_eq(archive_read_open_memory(a, b->data, b->len), ARCHIVE_OK);
	struct archive_entry *e;
	int64_t size = -1;
	while (archive_read_next_header(a, &e) == ARCHIVE_OK)
		if (strcmp(archive_entry_pathname(e), name) == 0)
			size = archive_entry_size(e);
	archive_read_free(a);
	return size;
}

/* rename(2) of a directory from a lower layer works (redirect_dir=on): diff/
 * then holds only a redirect, and the layer is diffed naively. */
START_TEST(test_overlay_rename_of_lower_directory_is_diffed_right)
{
	struct st_driver *d = open_drv("h", NULL);
	char buf[256];
	ck_assert_msg(st_str_has_prefix(status_of(d, "Renamed Directories", buf, sizeof(buf)), "redirects"), "%s", buf);
	make_base(d, "base");
	create(d, "rw", "base", true);
	char *m = mount_layer(d, "rw");
	char from[PATH_MAX], to[PATH_MAX];
	snprintf(from, sizeof(from), "%s/d", m);
	snprintf(to, sizeof(to), "%s/d2", m);
	ck_assert_msg(rename(from, to) == 0, "rename: %s", strerror(errno));
	char *diff = layer_path("h", "rw", "diff");
	ck_assert(st_test_exists(diff, "d2") && !st_test_exists(diff, "d2/f")); /* only a redirect */
	char *ch = changes_text(d, "rw");
	ck_assert_str_eq(ch, "D /d\nA /d2\nA /d2/f\nA /d2/g\n");
	struct tt_buf raw;
	char *list = diff_list(d, "rw", &raw);
	ck_assert_msg(has_line(list, "f .wh.d") && has_line(list, "f d2/f") && has_line(list, "f d2/g"), "diff:\n%s", list);
	struct st_error err = {0};
	ck_assert_int_eq(st_drv_diff_size(d, "rw", NULL, &err), 2);
	create(d, "copy", "base", false);
	struct tt_memreader mr;
	ST_OK(st_drv_apply(d, "copy", NULL, tt_memreader(&mr, raw.data, raw.len, 0), &err), &err);
	char *mc = mount_layer(d, "copy");
	char *s1 = snap_tree(m, 0), *s2 = snap_tree(mc, 0);
	ck_assert_snap_eq(s1, s2, "renamed directory after a round trip");
	put(d, "copy");
	put(d, "rw");
	/* committed in place, the redirect is followed for its children: a
	 * change below the renamed directory is a change, not an addition */
	ST_OK(st_drv_commit(d, "rw", &err), &err);
	create(d, "child", "rw", true);
	char *mch = mount_layer(d, "child");
	ck_assert_int_eq(st_test_sh("cd %s && echo F > d2/f && rm d2/g && echo n > d2/n", mch), 0);
	put(d, "child");
	free(ch);
	ch = changes_text(d, "child");
	ck_assert_str_eq(ch, "C /d2\nC /d2/f\nD /d2/g\nA /d2/n\n");
	free(mch);
	free(s1);
	free(s2);
	free(mc);
	free(ch);
	free(list);
	free(diff);
	tt_buf_free(&raw);
	free(m);
	st_driver_close(d);
}
END_TEST

/* With redirect_dir off the kernel refuses rename(2) of a lower directory
 * (EXDEV) and mv copies it: diff/ then holds the new name in full. */
START_TEST(test_overlay_rename_without_redirects_copies_into_diff)
{
	struct st_driver *d = open_drv("h", "mountopt=redirect_dir=off");
	make_base(d, "base");
	create(d, "rw", "base", true);
	char *m = mount_layer(d, "rw");
	char from[PATH_MAX], to[PATH_MAX];
	snprintf(from, sizeof(from), "%s/d", m);
	snprintf(to, sizeof(to), "%s/d2", m);
	ck_assert_int_lt(rename(from, to), 0);
	ck_assert_int_eq(errno, EXDEV);
	ck_assert_int_eq(st_test_sh("mv %s %s", from, to), 0);
	char *diff = layer_path("h", "rw", "diff");
	ck_assert(st_test_exists(diff, "d2/f") && st_test_exists(diff, "d2/g"));
	char *ch = changes_text(d, "rw");
	ck_assert_str_eq(ch, "D /d\nA /d2\nA /d2/f\nA /d2/g\n");
	char *list = diff_list(d, "rw", NULL);
	ck_assert_msg(has_line(list, "f .wh.d") && has_line(list, "f d2/f") && has_line(list, "f d2/g"), "diff:\n%s", list);
	put(d, "rw");
	free(ch);
	free(list);
	free(diff);
	free(m);
	st_driver_close(d);
}
END_TEST

/* With metacopy on, a chown copies up only the metadata: diff/ has an empty
 * file. The driver must notice at init and diff the mounted trees. */
START_TEST(test_overlay_native_diff_falls_back_when_metacopy_is_on)
{
	struct st_driver *d = open_drv("h", "mountopt=metacopy=on");
	char buf[256];
	ck_assert_str_eq(status_of(d, "Native Overlay Diff", buf, sizeof(buf)), "false");
	ck_assert_msg(strstr(status_of(d, "Naive Diff Reason", buf, sizeof(buf)), "metacopy"), "%s", buf);
	make_base(d, "base");
	create(d, "rw", "base", true);
	char *m = mount_layer(d, "rw");
	ck_assert_int_eq(st_test_sh("chown 1:1 %s/keep", m), 0);
	put(d, "rw");
	/* what makes diff/ incomplete: the copy there has no data */
	char *diff = layer_path("h", "rw", "diff");
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/keep", diff);
	ck_assert_int_ge(lgetxattr(p, "trusted.overlay.metacopy", NULL, 0), 0);
	struct tt_buf raw;
	free(diff_list(d, "rw", &raw));
	ck_assert_int_eq(tar_entry_size(&raw, "keep"), 4);
	char *ch = changes_text(d, "rw");
	ck_assert_str_eq(ch, "C /keep\n");
	tt_buf_free(&raw);
	free(ch);
	free(diff);
	free(m);
	st_driver_close(d);
	/* the default keeps metacopy off; the checks' cached answers are per
	 * options (and boot), and a damaged cache is checked again */
	d = open_drv("h", NULL);
	ck_assert_str_eq(status_of(d, "Native Overlay Diff", buf, sizeof(buf)), "true");
	ck_assert_str_eq(status_of(d, "Using metacopy", buf, sizeof(buf)), "false");
	st_driver_close(d);
	ck_assert_int_eq(st_test_sh("cd %s/h && sed -i '2s/.*/1 1 0/' .features", tmp), 0);
	d = open_drv("h", NULL);
	ck_assert_str_eq(status_of(d, "Native Overlay Diff", buf, sizeof(buf)), "false"); /* the cache is believed */
	st_driver_close(d);
	ck_assert_int_eq(st_test_sh("cd %s/h && echo garbage > .features", tmp), 0);
	d = open_drv("h", NULL);
	ck_assert_str_eq(status_of(d, "Native Overlay Diff", buf, sizeof(buf)), "true");
	st_driver_close(d);
	d = open_drv("h", "mountopt=metacopy=on");
	ck_assert_str_eq(status_of(d, "Native Overlay Diff", buf, sizeof(buf)), "false");
	st_driver_close(d);
	/* the options are checked: overlay's own layout is not the user's */
	struct st_kvlist kv = {0};
	st_kvlist_add(&kv, "mountopt", "upperdir=/etc");
	char home[PATH_MAX];
	snprintf(home, sizeof(home), "%s/h3", tmp);
	struct st_error err = {0};
	ck_assert_int_lt(st_driver_open("overlay", home, &kv, &d, &err), 0);
	ck_assert_msg(strstr(err.msg, "upperdir=/etc") != NULL, "%s", err.msg);
	st_kvlist_free(&kv);
}
END_TEST

/* -------------------------------------------------------- deep chains */

static void chain(struct st_driver *d, int n, const char *prefix)
{
	char id[32], parent[32] = "";
	for (int i = 1; i <= n; i++) {
		snprintf(id, sizeof(id), "%s%d", prefix, i);
		create(d, id, i > 1 ? parent : NULL, false);
		struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, 0);
		char name[32], val[32];
		snprintf(name, sizeof(name), "f%d", i);
		snprintf(val, sizeof(val), "%d", i);
		tt_file(t, name, 0644, val);
		tt_file(t, "top", 0644, val); /* every layer overwrites it */
		if (i > 1) {
			snprintf(name, sizeof(name), ".wh.gone%d", i - 1);
			tt_file(t, name, 0644, "");
		}
		snprintf(name, sizeof(name), "gone%d", i);
		tt_file(t, name, 0644, "x");
		apply_tar(d, id, t);
		snprintf(parent, sizeof(parent), "%s", id);
	}
}

static void check_deep(struct st_driver *d, const char *top, int n)
{
	char *m = mount_layer(d, top);
	char want[32];
	snprintf(want, sizeof(want), "%d", n);
	ck_file_eq(m, "top", want);
	ck_file_eq(m, "f1", "1");
	/* n files f*, one gone* (the rest whited out), top */
	ck_assert_int_eq(st_test_sh("test $(ls %s | wc -l) -eq %d", m, n + 2), 0);
	put(d, top);
	free(m);
}

START_TEST(test_overlay_500_layer_chain_mounts_with_both_apis_and_501_is_refused)
{
	struct st_driver *d = open_drv("h", NULL);
	chain(d, 500, "c");
	check_deep(d, "c500", 500);
	/* 500 lower layers under a read-write one */
	create(d, "rw", "c500", true);
	char *m = mount_layer(d, "rw");
	st_test_write(m, "w", "w");
	ck_file_eq(m, "f250", "250");
	put(d, "rw");
	free(m);
	/* a 501st committed layer would stack 501 lower layers: neither made
	 * nor committed from a read-write one */
	struct st_error err = {0};
	ck_assert_int_lt(st_drv_commit(d, "rw", &err), 0);
	ck_assert_msg(strstr(err.msg, "at most 500") != NULL, "%s", err.msg);
	ck_assert(st_drv_is_rw(d, "rw"));
	ck_assert_int_lt(st_drv_create(d, "c501", "c500", false, NULL, &err), 0);
	ck_assert_msg(strstr(err.msg, "at most 500") != NULL, "%s", err.msg);
	st_driver_close(d);
	/* the same chain through one page of mount(2) data */
	d = open_drv("h", "mount_api=legacy");
	check_deep(d, "c500", 500);
	m = mount_layer(d, "rw");
	ck_file_eq(m, "w", "w");
	put(d, "rw");
	free(m);
	st_driver_close(d);
}
END_TEST

/* Past the kernel's stack limit, the error says so, with either API. */
START_TEST(test_overlay_mount_past_kernel_limit_says_so)
{
	char base[PATH_MAX];
	snprintf(base, sizeof(base), "%s/many", tmp);
	ck_assert_int_eq(st_test_sh("mkdir -p %s/m && cd %s && seq 1 501 | xargs mkdir", base, base), 0);
	int fd = open(base, O_RDONLY | O_DIRECTORY);
	char **names = calloc(501, sizeof(*names));
	for (int i = 0; i < 501; i++)
		ck_assert_int_ge(asprintf(&names[i], "%d", i + 1), 0);
	for (int plus = 0; plus < 2; plus++) {
		struct ovl_mount_spec s = {.base_fd = fd, .lowers = (const char *const *)names, .nlowers = 501,
					   .target = "m", .opts = "", .lowerdir_plus = plus};
		struct st_error err = {0};
		if (plus && !ovl_mount_has_lowerdir_plus(fd, "1", "2"))
			continue;
		ck_assert_int_lt(ovl_mount(&s, &err), 0);
		ck_assert_msg(strstr(err.msg, "500") != NULL, "%s: %s", plus ? "lowerdir+" : "mount(2)", err.msg);
		s.nlowers = 500;
		ck_assert_msg(ovl_mount(&s, &err) == 0, "500 lowers: %s", err.msg);
		ck_assert_int_eq(ovl_unmount(fd, "m", &err), 0);
		ck_assert(!ovl_is_mounted(fd, "m"));
	}
	for (int i = 0; i < 501; i++)
		free(names[i]);
	free(names);
	close(fd);
}
END_TEST

/* ------------------------------------------------------------ removal */

START_TEST(test_overlay_remove_never_leaves_a_mount)
{
	struct st_driver *d = open_drv("h", NULL);
	make_base(d, "base");
	create(d, "a", "base", true);
	create(d, "b", "base", true);
	create(d, "c", "base", false);
	struct st_error err = {0};
	/* counted: refused while mounted, fine after the last put */
	char *m = mount_layer(d, "a");
	ck_assert_int_lt(st_drv_remove(d, "a", &err), 0);
	put(d, "a");
	ST_OK(st_drv_remove(d, "a", &err), &err);
	ck_assert(!mountinfo_has(m));
	free(m);
	/* a mount nobody counts (a process killed between mount and count) */
	char path[PATH_MAX];
	ST_OK(d->ops->get(d, "b", path, sizeof(path), &err), &err);
	ck_assert(mountinfo_has(path));
	ST_OK(st_drv_remove(d, "b", &err), &err);
	ck_assert(!mountinfo_has(path));
	/* ... and one that is busy: detached */
	ST_OK(d->ops->get(d, "c", path, sizeof(path), &err), &err);
	char f[PATH_MAX + 8];
	snprintf(f, sizeof(f), "%s/a/x", path);
	int busy = open(f, O_RDONLY);
	ck_assert_int_ge(busy, 0);
	ST_OK(st_drv_remove(d, "c", &err), &err);
	ck_assert(!mountinfo_has(path));
	ck_assert(!st_drv_exists(d, "c"));
	close(busy);
	ck_assert(!mounted_under(tmp));
	/* links went with their layers */
	ck_assert_int_eq(st_test_sh("test $(ls %s/h/l | wc -l) -eq 1", tmp), 0);
	st_driver_close(d);
}
END_TEST

static void set_state(const char *home, const char *id, const char *state)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/.strata/layers/%s", home, id);
	json_object *o = json_object_from_file(p);
	ck_assert_ptr_nonnull(o);
	json_object_object_add(o, "state", json_object_new_string(state));
	ck_assert_int_eq(json_object_to_file(p, o), 0);
	json_object_put(o);
}

static void recover(struct st_driver **d, const char *home_rel)
{
	st_driver_close(*d);
	*d = open_drv(home_rel, NULL);
	struct st_error err = {0};
	ST_OK(st_drv_recover(*d, &err), &err);
}

static void assert_gone(struct st_driver *d, const char *id, const char *home)
{
	ck_assert(!st_drv_exists(d, id));
	ck_assert_int_ne(st_test_sh("ls -a %s | grep -q -e '^%s$' -e '^.trash-'", home, id), 0);
	ck_assert_int_ne(st_test_sh("ls -l %s/l | grep -q '/%s/diff'", home, id), 0);
	ck_assert_int_ne(st_test_sh("test -e %s/.strata/layers/%s", home, id), 0);
	ck_assert(!mounted_under(home));
}

START_TEST(test_overlay_interrupted_remove_finishes_on_next_open)
{
	char home[PATH_MAX];
	snprintf(home, sizeof(home), "%s/h", tmp);
	struct st_driver *d = open_drv("h", NULL);
	make_base(d, "base");
	/* killed after the link went, before the directory did */
	create(d, "x1", "base", true);
	char *m = mount_layer(d, "x1");
	put(d, "x1");
	set_state(home, "x1", "removing");
	ck_assert_int_eq(st_test_sh("cd %s && rm l/$(cat x1/link)", home), 0);
	/* killed while deleting the renamed directory, a mount still there */
	create(d, "x2", "base", true);
	char path[PATH_MAX];
	struct st_error err = {0};
	ST_OK(d->ops->get(d, "x2", path, sizeof(path), &err), &err);
	set_state(home, "x2", "removing");
	ck_assert_int_eq(st_test_sh("cd %s && umount -l x2/merged && rm l/$(cat x2/link) && mv x2 .trash-x2-0123", home), 0);
	/* killed right after the record said "removing" */
	create(d, "x3", "base", false);
	set_state(home, "x3", "removing");
	/* killed while creating */
	create(d, "x4", "base", true);
	set_state(home, "x4", "creating");
	recover(&d, "h");
	assert_gone(d, "x1", home);
	assert_gone(d, "x2", home);
	assert_gone(d, "x3", home);
	assert_gone(d, "x4", home);
	ck_assert(st_drv_exists(d, "base"));
	free(m);

	/* real kills at several points of removing a layer of 3000 files: after
	 * the next open the layer is either whole (killed before the removal
	 * began) or entirely gone */
	int whole = 0, gone = 0;
	for (int delay = 0; delay < 8; delay++) {
		create(d, "k", "base", true);
		char *km = mount_layer(d, "k");
		ck_assert_int_eq(st_test_sh("cd %s && mkdir many && cd many && seq 1 3000 | xargs touch", km), 0);
		put(d, "k");
		free(km);
		int ready[2];
		ck_assert_int_eq(pipe(ready), 0);
		pid_t pid = fork();
		if (pid == 0) {
			struct st_driver *cd = open_drv("h", NULL);
			struct st_error e = {0};
			if (write(ready[1], "r", 1) != 1)
				_exit(2);
			_exit(st_drv_remove(cd, "k", &e) < 0 ? 1 : 0);
		}
		char c;
		close(ready[1]);
		ck_assert_int_eq(read(ready[0], &c, 1), 1);
		close(ready[0]);
		/* 0 to 25 ms into the removal */
		usleep((useconds_t)(delay * delay * 500));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		recover(&d, "h");
		if (st_drv_exists(d, "k")) {
			whole++;
			km = mount_layer(d, "k");
			ck_assert_int_eq(st_test_sh("test $(ls %s/many | wc -l) -eq 3000", km), 0);
			put(d, "k");
			free(km);
			ST_OK(st_drv_remove(d, "k", &err), &err);
		} else {
			gone++;
		}
		assert_gone(d, "k", home);
	}
	printf("interrupted removals: %d killed before they began, %d finished by the next open\n", whole, gone);
	ck_assert_int_gt(gone, 0);
	st_driver_close(d);
}
END_TEST

/* ------------------------------------------------------------- commit */

START_TEST(test_overlay_commit_keeps_diff_in_place)
{
	struct st_driver *d = open_drv("h", NULL);
	make_base(d, "base");
	create(d, "rw", "base", true);
	char *m = mount_layer(d, "rw");
	ck_assert_int_eq(st_test_sh("cd %s && echo new > new && rm keep && chmod 700 a", m), 0);
	struct st_error err = {0};
	ck_assert_int_lt(st_drv_commit(d, "rw", &err), 0); /* mounted */
	put(d, "rw");
	struct tt_buf before;
	char *lb = diff_list(d, "rw", &before);
	char *diff = layer_path("h", "rw", "diff");
	struct stat s1, s2, f1, f2;
	char nf[PATH_MAX];
	snprintf(nf, sizeof(nf), "%s/new", diff);
	ck_assert_int_eq(stat(diff, &s1), 0);
	ck_assert_int_eq(stat(nf, &f1), 0);
	ST_OK(st_drv_commit(d, "rw", &err), &err);
	ck_assert(!st_drv_is_rw(d, "rw"));
	ck_assert_int_eq(stat(diff, &s2), 0);
	ck_assert_int_eq(stat(nf, &f2), 0);
	ck_assert(s1.st_ino == s2.st_ino && f1.st_ino == f2.st_ino); /* not copied */
	ck_assert(!st_test_exists(tmp, "h/rw/work"));
	/* the same diff, byte for byte */
	struct tt_buf after;
	free(diff_list(d, "rw", &after));
	ck_assert(before.len == after.len && memcmp(before.data, after.data, before.len) == 0);
	/* mounted read-only now, without an upper, and a parent for others */
	free(m);
	m = mount_layer(d, "rw");
	char *mi = mountinfo_of(m);
	ck_assert_msg(mi && !strstr(mi, "upperdir"), "%s", mi ? mi : "(not mounted)");
	ck_file_eq(m, "new", "new\n");
	ck_assert(!st_test_exists(m, "keep"));
	put(d, "rw");
	create(d, "child", "rw", true);
	char *mc = mount_layer(d, "child");
	ck_file_eq(mc, "new", "new\n");
	put(d, "child");
	free(mi);
	free(mc);
	free(m);
	free(lb);
	free(diff);
	tt_buf_free(&before);
	tt_buf_free(&after);
	st_driver_close(d);
}
END_TEST

/* A RUN step's mount points (made, then removed) leave their parent
 * directories copied up in diff/ with nothing in them: tidy drops those,
 * and only those, and the merged view stays the same. */
START_TEST(test_overlay_tidy_drops_only_directories_copied_up_for_nothing)
{
	struct st_driver *d = open_drv("h", NULL);
	create(d, "base", NULL, false);
	struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, 0);
	const char *dirs[] = {"e", "e/f", "e/f/g", "m", "c", "a", "o"};
	for (size_t i = 0; i < ST_ARRAY_SIZE(dirs); i++)
		tt_dir(t, dirs[i], 0755);
	tt_file(t, "a/x", 0644, "x");
	tt_file(t, "o/x", 0644, "x");
	apply_tar(d, "base", t);
	create(d, "rw", "base", true);
	char *m = mount_layer(d, "rw");
	/* e/f/g: a mount point made and removed, its times put back (as the
	 * builder does); m: the same without the times; c: chmod; a: a new
	 * file; o: emptied and made again (opaque) */
	ck_assert_int_eq(st_test_sh("cd %s && t=$(stat -c %%y e/f/g) && mkdir e/f/g/mnt && rmdir e/f/g/mnt && "
				    "touch -m -d \"$t\" e/f/g && touch -m -d \"$(stat -c %%y e/f)\" e/f && "
				    "touch m/s && rm m/s && chmod 700 c && echo n > a/n && rm -r o && mkdir o",
				    m),
			 0);
	char *diff = layer_path("h", "rw", "diff");
	ck_assert(st_test_exists(diff, "e/f/g"));
	char *before = snap_tree(m, SNAP_DIR_MTIME | SNAP_MTIME | SNAP_NSEC);
	put(d, "rw");
	struct st_error err = {0};
	ST_OK(st_drv_tidy(d, "rw", &err), &err);
	ck_assert(!st_test_exists(diff, "e"));
	char *list = diff_list(d, "rw", NULL);
	ck_assert_msg(has_line(list, "d m/") && has_line(list, "d c/") && has_line(list, "d a/") &&
			      has_line(list, "f a/n") && has_line(list, "d o/") && !strstr(list, "e/"),
		      "diff:\n%s", list);
	free(m);
	m = mount_layer(d, "rw");
	char *after = snap_tree(m, SNAP_DIR_MTIME | SNAP_MTIME | SNAP_NSEC);
	ck_assert_snap_eq(before, after, "merged view before and after tidy");
	/* mounted, or committed, a layer is left alone */
	ck_assert_int_eq(st_test_sh("cd %s && mkdir e/f/g/mnt && rmdir e/f/g/mnt", m), 0);
	ST_OK(st_drv_tidy(d, "rw", &err), &err);
	ck_assert(st_test_exists(diff, "e/f/g"));
	put(d, "rw");
	free(before);
	free(after);
	free(list);
	free(diff);
	free(m);
	st_driver_close(d);
}
END_TEST

/* -------------------------------------------------------------- probe */

START_TEST(test_overlay_probe_refuses_overlay_backing_filesystem)
{
	char reason[512];
	ck_assert_int_eq(st_test_sh("cd %s && mkdir lo1 lo2 up wk mnt && mount -t overlay overlay "
				    "-o lowerdir=lo1:lo2,upperdir=up,workdir=wk mnt", tmp), 0);
	char home[PATH_MAX];
	snprintf(home, sizeof(home), "%s/mnt/home", tmp);
	int r = st_driver_probe("overlay", home, reason, sizeof(reason));
	st_test_sh("umount %s/mnt", tmp);
	ck_assert_int_lt(r, 0);
	ck_assert_msg(strstr(reason, "overlayfs") != NULL, "%s", reason);
	/* and works in a plain directory, leaving nothing behind */
	snprintf(home, sizeof(home), "%s/plain", tmp);
	ck_assert_int_eq(st_driver_probe("overlay", home, reason, sizeof(reason)), 0);
	ck_assert(!st_test_exists(tmp, "plain"));
}
END_TEST

START_TEST(test_overlay_probe_refuses_xfs_without_d_type)
{
	if (st_test_sh("command -v mkfs.xfs >/dev/null") != 0)
		ST_SKIP("no mkfs.xfs");
	if (st_test_sh("cd %s && truncate -s 320M x.img && mkfs.xfs -q -m crc=0 -n ftype=0 x.img 2>/dev/null && mkdir x "
		       "&& mount -o loop x.img x 2>/dev/null", tmp) != 0)
		ST_SKIP("this kernel or xfsprogs cannot make or mount xfs with ftype=0 (v4 format)");
	char home[PATH_MAX], reason[512];
	snprintf(home, sizeof(home), "%s/x/home", tmp);
	int r = st_driver_probe("overlay", home, reason, sizeof(reason));
	st_test_sh("umount %s/x", tmp);
	ck_assert_int_lt(r, 0);
	ck_assert_msg(strstr(reason, "d_type") != NULL, "%s", reason);
}
END_TEST

/* A probe killed mid-way leaves a test mount; the next one clears it. */
START_TEST(test_overlay_probe_clears_test_mounts_of_killed_processes)
{
	struct st_driver *d = open_drv("h", NULL);
	st_driver_close(d);
	char home[PATH_MAX];
	snprintf(home, sizeof(home), "%s/h", tmp);
	/* a dead pid's scratch directory with a live mount */
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	ck_assert_int_eq(st_test_sh("cd %s && mkdir -p .ovl-check-%d-00/l1 .ovl-check-%d-00/l2 .ovl-check-%d-00/m && "
				    "cd .ovl-check-%d-00 && mount -t overlay overlay -o lowerdir=l1:l2 m",
				    home, (int)pid, (int)pid, (int)pid, (int)pid), 0);
	d = open_drv("h", NULL);
	ck_assert(!mounted_under(home));
	ck_assert_int_ne(st_test_sh("ls -a %s | grep -q ovl-check", home), 0);
	st_driver_close(d);
}
END_TEST

int main(void)
{
	if (geteuid() != 0) {
		printf("SKIP test_overlay: needs root\n");
		return 0;
	}
	char reason[512];
	char *probe_home = st_test_mkdtemp("ovlprobe");
	char home[PATH_MAX];
	snprintf(home, sizeof(home), "%s/home", probe_home);
	int pr = st_driver_probe("overlay", home, reason, sizeof(reason));
	st_test_rmtree(probe_home);
	free(probe_home);
	if (pr < 0) {
		printf("SKIP test_overlay: %s\n", reason);
		return 0;
	}
	Suite *s = suite_create("overlay");
	TCase *tc = tcase_create("overlay");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_overlay_status_reports_native_diff_and_mount_api);
	tcase_add_test(tc, test_overlay_layout_is_overlay2s);
	tcase_add_test(tc, test_overlay_committed_layer_mounts_readonly_without_upper);
	tcase_add_test(tc, test_overlay_apply_turns_oci_whiteouts_into_devices_and_opaque_xattrs);
	tcase_add_test(tc, test_overlay_diff_turns_devices_and_opaque_dirs_into_oci_whiteouts);
	tcase_add_test(tc, test_overlay_rename_of_lower_directory_is_diffed_right);
	tcase_add_test(tc, test_overlay_rename_without_redirects_copies_into_diff);
	tcase_add_test(tc, test_overlay_native_diff_falls_back_when_metacopy_is_on);
	tcase_add_test(tc, test_overlay_500_layer_chain_mounts_with_both_apis_and_501_is_refused);
	tcase_add_test(tc, test_overlay_mount_past_kernel_limit_says_so);
	tcase_add_test(tc, test_overlay_remove_never_leaves_a_mount);
	tcase_add_test(tc, test_overlay_interrupted_remove_finishes_on_next_open);
	tcase_add_test(tc, test_overlay_commit_keeps_diff_in_place);
	tcase_add_test(tc, test_overlay_tidy_drops_only_directories_copied_up_for_nothing);
	tcase_add_test(tc, test_overlay_probe_refuses_overlay_backing_filesystem);
	tcase_add_test(tc, test_overlay_probe_refuses_xfs_without_d_type);
	tcase_add_test(tc, test_overlay_probe_clears_test_mounts_of_killed_processes);
	suite_add_tcase(s, tc);
	return st_test_main(s);
}
