/* Hostile layer tars: each must fail with a clear error, change nothing
 * outside the target, and leave the target exactly as it was (every entry,
 * inode, mode, owner, xattr and mtime, directories included), in all three
 * whiteout formats. Every hostile tar starts with ordinary entries that
 * create, replace, whiteout and re-own things, so the rollback is exercised
 * each time. The tars are built with libarchive, never with a tar command
 * that would normalise the names. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/base.h"
#include "archive/archive.h"
#include "snap.h"
#include "tartest.h"
#include "testlib.h"

static char *base;   /* <tmp>/strata-hostile-XXXX */
static char target[PATH_MAX], outside[PATH_MAX];

static void put_file(const char *dir, const char *rel, const char *content, mode_t mode)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	ck_assert_msg(fd >= 0, "create %s: %s", p, strerror(errno));
	ck_assert_int_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	fchmod(fd, mode);
	close(fd);
}

static void set_time(const char *dir, const char *rel, long sec)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s%s%s", dir, rel[0] ? "/" : "", rel);
	struct timespec ts[2] = {{sec, 123456789}, {sec, 987654321}};
	ck_assert_int_eq(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static void fixture_setup(void)
{
	base = st_test_mkdtemp("hostile");
	ck_assert_ptr_nonnull(base);
	snprintf(outside, sizeof(outside), "%s/outside", base);
	snprintf(target, sizeof(target), "%s/sandbox/target", base);
	ck_assert_int_eq(st_test_sh("mkdir -p '%s/dir' '%s/sandbox/target/dir/sub'", outside, base), 0);
	put_file(outside, "passwd", "root:x:0:0:outside\n", 0644);
	put_file(outside, "dir/f", "outside file\n", 0600);

	put_file(target, "keep.txt", "keep\n", 0644);
	put_file(target, "over.txt", "will be replaced\n", 0640);
	put_file(target, "gone.txt", "whiteout victim\n", 0600);
	put_file(target, "dir/inner.txt", "inner\n", 0644);
	put_file(target, "dir/sub/deep.txt", "deep\n", 0644);
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/keep.txt", target);
	ck_assert_int_eq(lsetxattr(p, "user.origin", "lower\0bin", 9, 0), 0);
	ck_assert_int_eq(st_test_sh("cd '%s' && ln keep.txt keep2 && ln -s dir inlink && ln -s ../../outside out"
				    " && mkfifo fifo && chown 5:6 dir && chmod 0750 dir",
				    target), 0);
	snprintf(p, sizeof(p), "%s/dir", target);
	ck_assert_int_eq(lsetxattr(p, "user.dirattr", "d", 1, 0), 0);
	/* distinct times with nanoseconds, directories last */
	const char *files[] = {"keep.txt", "over.txt", "gone.txt", "dir/inner.txt", "dir/sub/deep.txt",
			       "inlink", "out", "fifo"};
	for (size_t i = 0; i < ST_ARRAY_SIZE(files); i++)
		set_time(target, files[i], 1500000000 + (long)i);
	set_time(target, "dir/sub", 1400000001);
	set_time(target, "dir", 1400000002);
	set_time(target, "", 1400000003);
	set_time(outside, "dir", 1400000004);
	set_time(outside, "", 1400000005);
}

static void fixture_teardown(void)
{
	st_test_rmtree(base);
	free(base);
}

/* Ordinary entries first: new files, replaced files, a whiteout, an opaque
 * directory, changed directory metadata, a hardlink to a lower file, a
 * file written through an in-root symlink, new parent directories. */
static void benign_prefix(struct tt_tar *t)
{
	struct tt_attr a = {.uid = 7, .gid = 8, .mtime = 1234567890};
	tt_file(t, "new.txt", 0644, "new\n");
	tt_file(t, "over.txt", 0600, "replaced\n");
	tt_file(t, ".wh.gone.txt", 0, "");
	tt_dir_attr(t, "dir", 0700, &a);
	tt_file(t, "dir/added-in-dir.txt", 0644, "added\n");
	tt_file(t, "dir/.wh..wh..opq", 0, "");
	tt_file(t, "newdir/deep/f.txt", 0644, "made parents\n");
	tt_hardlink(t, "hl", "keep.txt");
	tt_file(t, "inlink/through-symlink.txt", 0644, "written through an in-root symlink\n");
	tt_symlink(t, "newlink", "dir");
	tt_file(t, "newlink/through-new-symlink.txt", 0644, "through a symlink of this layer\n");
}

static const enum st_whiteout_format formats[] = {ST_WH_DELETE, ST_WH_OVERLAY, ST_WH_AUFS};
static const char *const format_names[] = {"delete", "overlay", "aufs"};

/* Apply data to the target in every whiteout format; each must fail with a
 * message containing `expect` and leave everything as it was. */
static void expect_rejected(const void *data, size_t len, const char *expect, const char *what)
{
	char *before = snap_tree(base, SNAP_INO | SNAP_DIR_MTIME | SNAP_MTIME | SNAP_NSEC | SNAP_ROOT);
	for (size_t f = 0; f < ST_ARRAY_SIZE(formats); f++) {
		struct st_error err = {0};
		struct tt_memreader m;
		struct st_tar_in in;
		int64_t r = st_tar_in_init(&in, tt_memreader(&m, data, len, 4096), &err);
		if (r >= 0) {
			int fd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			ck_assert_int_ge(fd, 0);
			struct st_apply_opts o = {.wh = formats[f]};
			r = st_archive_apply(fd, &in, &o, &err);
			close(fd);
			st_tar_in_free(&in);
		}
		ck_assert_msg(r < 0, "%s (%s whiteouts): a hostile tar was applied (returned %lld)", what,
			      format_names[f], (long long)r);
		ck_assert_msg(err.code > 0 && err.msg[0], "%s: no error message", what);
		ck_assert_msg(strstr(err.msg, expect) != NULL, "%s (%s whiteouts): error \"%s\" does not mention \"%s\"",
			      what, format_names[f], err.msg, expect);
		char *after = snap_tree(base, SNAP_INO | SNAP_DIR_MTIME | SNAP_MTIME | SNAP_NSEC | SNAP_ROOT);
		char *d = snap_diff(before, after);
		ck_assert_msg(d == NULL, "%s (%s whiteouts): the tree changed:\n%s", what, format_names[f], d);
		free(after);
	}
	free(before);
}

/* A hostile tar: the benign prefix, then the entries `add` makes. */
static void expect_tar_rejected(void (*add)(struct tt_tar *), const char *expect, const char *what)
{
	struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, 0);
	benign_prefix(t);
	add(t);
	struct tt_buf b;
	tt_tar_finish(t, &b);
	expect_rejected(b.data, b.len, expect, what);
	tt_buf_free(&b);
}

/* The benign prefix alone applies (so the failures below are the hostile
 * entries' doing), and a failing apply of the same prefix is undone. */
START_TEST(test_benign_prefix_applies)
{
	struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, 0);
	benign_prefix(t);
	struct tt_buf b;
	tt_tar_finish(t, &b);
	struct st_error err = {0};
	struct tt_memreader m;
	struct st_tar_in in;
	ST_OK(st_tar_in_init(&in, tt_memreader(&m, b.data, b.len, 0), &err), &err);
	int fd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct st_apply_opts o = {.wh = ST_WH_DELETE};
	ST_OK(st_archive_apply(fd, &in, &o, &err), &err);
	close(fd);
	st_tar_in_free(&in);
	ck_assert(!st_test_exists(target, "gone.txt"));
	ck_assert(!st_test_exists(target, "dir/inner.txt"));
	ck_assert(st_test_exists(target, "dir/through-symlink.txt"));
	ck_assert(st_test_exists(target, "dir/through-new-symlink.txt"));
	ck_assert(st_test_exists(target, "dir/added-in-dir.txt"));
	char *s = st_test_read(target, "over.txt");
	ck_assert_str_eq(s, "replaced\n");
	free(s);
	tt_buf_free(&b);
}
END_TEST

static void add_dotdot(struct tt_tar *t) { tt_file(t, "../escape.txt", 0644, "x"); }
static void add_dotdot_inner(struct tt_tar *t) { tt_file(t, "a/../../escape.txt", 0644, "x"); }
static void add_dot_dotdot(struct tt_tar *t) { tt_file(t, "./../escape.txt", 0644, "x"); }
static void add_dotdot_dir(struct tt_tar *t) { tt_dir(t, "dir/sub/../../..", 0777); }

START_TEST(test_path_traversal_rejected)
{
	expect_tar_rejected(add_dotdot, "../escape.txt", "../escape.txt");
	expect_tar_rejected(add_dotdot_inner, "a/../../escape.txt", "a/../../escape.txt");
	expect_tar_rejected(add_dot_dotdot, "./../escape.txt", "./../escape.txt");
	expect_tar_rejected(add_dotdot_dir, "dir/sub/../../..", "a directory entry ending in ..");
	ck_assert(!st_test_exists(base, "sandbox/escape.txt"));
}
END_TEST

static char abs_name[PATH_MAX];
static void add_absolute(struct tt_tar *t) { tt_file(t, abs_name, 0644, "overwritten\n"); }
static void add_absolute_dir(struct tt_tar *t) { tt_dir(t, "/", 0777); }

START_TEST(test_absolute_names_rejected)
{
	snprintf(abs_name, sizeof(abs_name), "%s/passwd", outside);
	expect_tar_rejected(add_absolute, abs_name, "an absolute name of an outside file");
	snprintf(abs_name, sizeof(abs_name), "/strata-hostile-absolute-%d", getpid());
	expect_tar_rejected(add_absolute, abs_name, "an absolute name in /");
	ck_assert(access(abs_name, F_OK) != 0);
	expect_tar_rejected(add_absolute_dir, "\"/\"", "the absolute root as a directory");
}
END_TEST

static void add_rel_symlink_escape(struct tt_tar *t)
{
	tt_symlink(t, "evil", "../../outside");
	tt_file(t, "evil/passwd", 0644, "pwned\n");
}
static void add_dotdot_symlink_escape(struct tt_tar *t)
{
	tt_symlink(t, "evil", "../..");
	tt_file(t, "evil/outside/passwd", 0644, "pwned\n");
}
static char abs_outside[PATH_MAX];
static void add_abs_symlink_escape(struct tt_tar *t)
{
	tt_symlink(t, "evil", abs_outside);
	tt_file(t, "evil/passwd", 0644, "pwned\n");
}
static void add_chained_symlink_escape(struct tt_tar *t)
{
	tt_symlink(t, "a", "b");
	tt_symlink(t, "b", "dir/../../../outside");
	tt_dir(t, "a/newdir", 0755);
}
static void add_existing_symlink_escape(struct tt_tar *t)
{
	tt_file(t, "out/passwd", 0644, "pwned\n"); /* out -> ../../outside is in the target already */
}
static void add_existing_symlink_newdir(struct tt_tar *t)
{
	tt_file(t, "out/made/by/layer", 0644, "pwned\n");
}
static void add_symlink_parent_whiteout(struct tt_tar *t)
{
	tt_file(t, "out/.wh.passwd", 0, ""); /* a whiteout through a symlink to outside */
}
static void add_symlink_parent_opaque(struct tt_tar *t)
{
	tt_file(t, "out/.wh..wh..opq", 0, "");
}

START_TEST(test_symlink_parent_escapes_rejected)
{
	expect_tar_rejected(add_rel_symlink_escape, "evil/passwd", "evil -> ../../outside, evil/passwd");
	expect_tar_rejected(add_dotdot_symlink_escape, "evil/outside/passwd", "evil -> ../.., evil/outside/passwd");
	snprintf(abs_outside, sizeof(abs_outside), "%s", outside);
	expect_tar_rejected(add_abs_symlink_escape, "evil/passwd", "evil -> /abs/outside, evil/passwd");
	expect_tar_rejected(add_chained_symlink_escape, "a/newdir", "a -> b -> ../outside, a/newdir");
	expect_tar_rejected(add_existing_symlink_escape, "out/passwd", "a symlink already in the target");
	expect_tar_rejected(add_existing_symlink_newdir, "out/made/by/layer", "new parents through a symlink");
	expect_tar_rejected(add_symlink_parent_whiteout, "out/.wh.passwd", "a whiteout through a symlink");
	expect_tar_rejected(add_symlink_parent_opaque, "out/.wh..wh..opq", "an opaque marker through a symlink");
}
END_TEST

static void add_etc_symlink(struct tt_tar *t)
{
	tt_symlink(t, "evil", "/etc");
	tt_file(t, "evil/passwd", 0644, "pwned::0:0\n");
}

/* The literal `evil -> /etc` attack. It runs in a private mount namespace
 * with a scratch tmpfs over /etc, so that a broken apply cannot touch the
 * host's /etc/passwd. */
START_TEST(test_symlink_to_etc_rejected)
{
	if (unshare(CLONE_NEWNS) < 0)
		ST_SKIP("unshare(CLONE_NEWNS): %s (needs root)", strerror(errno));
	ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	ck_assert_int_eq(mount("tmpfs", "/etc", "tmpfs", 0, "mode=0755"), 0);
	put_file("/etc", "passwd", "sentinel\n", 0644);
	expect_tar_rejected(add_etc_symlink, "evil/passwd", "evil -> /etc, evil/passwd");
	char *s = st_test_read("/etc", "passwd");
	ck_assert_str_eq(s, "sentinel\n");
	free(s);
	char *etc = snap_tree("/etc", 0);
	ck_assert_msg(strchr(etc, '\n') == etc + strlen(etc) - 1, "/etc gained entries:\n%s", etc);
	free(etc);
}
END_TEST

static void add_hardlink_dotdot(struct tt_tar *t) { tt_hardlink(t, "h", "../../outside/passwd"); }
static void add_hardlink_abs(struct tt_tar *t) { tt_hardlink(t, "h", abs_name); }
static void add_hardlink_through_symlink(struct tt_tar *t)
{
	tt_symlink(t, "evil", "../../outside");
	tt_hardlink(t, "h", "evil/passwd");
}
static void add_hardlink_existing_symlink(struct tt_tar *t) { tt_hardlink(t, "h", "out/passwd"); }
static void add_hardlink_missing(struct tt_tar *t) { tt_hardlink(t, "h", "no/such/file"); }
static void add_hardlink_dir(struct tt_tar *t) { tt_hardlink(t, "h", "dir"); }

START_TEST(test_hardlink_escapes_rejected)
{
	expect_tar_rejected(add_hardlink_dotdot, "../../outside/passwd", "hardlink to ../../outside/passwd");
	snprintf(abs_name, sizeof(abs_name), "%s/passwd", outside);
	expect_tar_rejected(add_hardlink_abs, abs_name, "hardlink to an absolute path");
	snprintf(abs_name, sizeof(abs_name), "/etc/passwd");
	expect_tar_rejected(add_hardlink_abs, "/etc/passwd", "hardlink to /etc/passwd");
	expect_tar_rejected(add_hardlink_through_symlink, "\"h\"", "hardlink through a symlink of the layer");
	expect_tar_rejected(add_hardlink_existing_symlink, "\"h\"", "hardlink through a symlink of the target");
	expect_tar_rejected(add_hardlink_missing, "no/such/file", "hardlink to a missing file");
	expect_tar_rejected(add_hardlink_dir, "\"h\"", "hardlink to a directory");
	struct stat st;
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/passwd", outside);
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert_int_eq(st.st_nlink, 1);
}
END_TEST

static void add_wh_dot(struct tt_tar *t) { tt_file(t, ".wh..", 0, ""); }
static void add_wh_dotdot(struct tt_tar *t) { tt_file(t, ".wh...", 0, ""); }
static void add_wh_dotdot_sub(struct tt_tar *t) { tt_file(t, "dir/sub/.wh...", 0, ""); }
static void add_wh_empty(struct tt_tar *t) { tt_file(t, "dir/.wh.", 0, ""); }

START_TEST(test_whiteout_of_dotdot_rejected)
{
	expect_tar_rejected(add_wh_dotdot, ".wh...", "a whiteout of ..");
	expect_tar_rejected(add_wh_dotdot_sub, "dir/sub/.wh...", "a whiteout of .. in a subdirectory");
	expect_tar_rejected(add_wh_dot, ".wh..", "a whiteout of .");
	expect_tar_rejected(add_wh_empty, "dir/.wh.", "a whiteout of nothing");
}
END_TEST

static void add_wh_as_dir(struct tt_tar *t) { tt_file(t, ".wh.keep.txt/x", 0644, "x"); }
static void add_wh_as_dir_sub(struct tt_tar *t) { tt_dir(t, "dir/.wh.sub/deeper", 0755); }
static void add_opq_as_dir(struct tt_tar *t) { tt_file(t, "dir/.wh..wh..opq/x", 0644, "x"); }

START_TEST(test_whiteout_name_as_directory_rejected)
{
	expect_tar_rejected(add_wh_as_dir, ".wh.keep.txt/x", "a whiteout used as a directory");
	expect_tar_rejected(add_wh_as_dir_sub, "dir/.wh.sub/deeper", "a whiteout used as a directory below");
	expect_tar_rejected(add_opq_as_dir, "dir/.wh..wh..opq/x", "the opaque marker used as a directory");
}
END_TEST

static void add_chr00(struct tt_tar *t) { tt_node(t, "dev00", AE_IFCHR, 0600, 0, 0); }
static void add_chr00_over(struct tt_tar *t) { tt_node(t, "keep.txt", AE_IFCHR, 0600, 0, 0); }

START_TEST(test_zero_char_device_rejected)
{
	expect_tar_rejected(add_chr00, "dev00", "a 0/0 character device");
	expect_tar_rejected(add_chr00_over, "keep.txt", "a 0/0 character device over a lower file");
}
END_TEST

static void add_ovl_opaque(struct tt_tar *t)
{
	struct tt_attr a = {.xattr_name = {"trusted.overlay.opaque"}, .xattr_val = {"y"}, .xattr_len = {1}};
	tt_dir_attr(t, "dir/sub", 0755, &a);
}
static void add_ovl_redirect(struct tt_tar *t)
{
	struct tt_attr a = {.xattr_name = {"trusted.overlay.redirect"}, .xattr_val = {"/outside"}, .xattr_len = {8}};
	tt_dir_attr(t, "redirected", 0755, &a);
}
static void add_ovl_file(struct tt_tar *t)
{
	struct tt_attr a = {.xattr_name = {"user.fine", "trusted.overlay.metacopy"},
			    .xattr_val = {"1", ""},
			    .xattr_len = {1, 0}};
	tt_file_data(t, "meta.txt", 0644, "m", 1, &a);
}
static void add_ovl_root(struct tt_tar *t)
{
	struct tt_attr a = {.xattr_name = {"trusted.overlay.opaque"}, .xattr_val = {"y"}, .xattr_len = {1}};
	tt_dir_attr(t, "./", 0755, &a);
}

START_TEST(test_overlay_private_xattrs_rejected)
{
	expect_tar_rejected(add_ovl_opaque, "trusted.overlay.opaque", "trusted.overlay.opaque on a directory");
	expect_tar_rejected(add_ovl_redirect, "trusted.overlay.redirect", "trusted.overlay.redirect");
	expect_tar_rejected(add_ovl_file, "trusted.overlay.metacopy", "trusted.overlay.metacopy on a file");
	expect_tar_rejected(add_ovl_root, "trusted.overlay.opaque", "trusted.overlay.opaque on the root");
}
END_TEST

static void add_file_parent(struct tt_tar *t) { tt_file(t, "keep.txt/child", 0644, "x"); }
static void add_long_name(struct tt_tar *t)
{
	static char name[PATH_MAX + 200];
	memset(name, 'a', sizeof(name) - 1);
	for (size_t i = 200; i < sizeof(name) - 1; i += 201)
		name[i] = '/';
	name[sizeof(name) - 1] = '\0';
	tt_file(t, name, 0644, "x");
}

START_TEST(test_impossible_entries_rolled_back)
{
	expect_tar_rejected(add_file_parent, "keep.txt/child", "a file used as a parent directory");
	expect_tar_rejected(add_long_name, "too long", "a name longer than PATH_MAX");
}
END_TEST

/* A tar that stops in the middle: of a file's data, of a header, of a pax
 * extended header, and the same compressed. */
static void truncated_case(size_t cut_from_end_of, int where, bool gzip)
{
	struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, 0);
	if (gzip)
		tt_tar_gzip(t);
	benign_prefix(t);
	static char big[300000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	tt_file_data(t, "big.bin", 0644, big, sizeof(big), NULL);
	tt_file(t, "after.txt", 0644, "after\n");
	struct tt_buf b;
	tt_tar_finish(t, &b);
	(void)cut_from_end_of;
	size_t cut;
	if (gzip) {
		cut = b.len / 2;
	} else if (where == 0) {
		cut = b.len - 1024 - 512 - 512 - 100000; /* inside big.bin's data */
	} else {
		cut = b.len - 1024 - 512 - 512 + 100; /* inside after.txt's header */
	}
	char what[64];
	snprintf(what, sizeof(what), "a tar cut at byte %zu of %zu%s", cut, b.len, gzip ? " (gzip)" : "");
	expect_rejected(b.data, cut, gzip ? "" : "runcated", what);
	tt_buf_free(&b);
}

START_TEST(test_truncated_tar_rolled_back)
{
	truncated_case(0, 0, false);
	truncated_case(0, 1, false);
	truncated_case(0, 0, true);
}
END_TEST

START_TEST(test_garbage_input_rejected)
{
	unsigned char junk[20000];
	unsigned x = 12345;
	for (size_t i = 0; i < sizeof(junk); i++) {
		x = x * 1103515245u + 12345u;
		junk[i] = (unsigned char)(x >> 16);
	}
	expect_rejected(junk, sizeof(junk), "layer", "random bytes");
	const char *text = "this is not a tar archive at all, just some text that goes on and on\n";
	static char many[4096];
	for (size_t i = 0; i + strlen(text) < sizeof(many); i += strlen(text))
		memcpy(many + i, text, strlen(text));
	expect_rejected(many, strlen(many), "layer", "text");
	/* a valid start, then garbage where the next header should be */
	struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, 0);
	benign_prefix(t);
	struct tt_buf b;
	tt_tar_finish(t, &b);
	b.len -= 1024; /* drop the end blocks */
	tt_buf_add(&b, junk, 1024);
	expect_rejected(b.data, b.len, "layer", "garbage after valid entries");
	tt_buf_free(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("apply_hostile");
	TCase *tc = tcase_create("hostile");
	tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_benign_prefix_applies);
	tcase_add_test(tc, test_path_traversal_rejected);
	tcase_add_test(tc, test_absolute_names_rejected);
	tcase_add_test(tc, test_symlink_parent_escapes_rejected);
	tcase_add_test(tc, test_symlink_to_etc_rejected);
	tcase_add_test(tc, test_hardlink_escapes_rejected);
	tcase_add_test(tc, test_whiteout_of_dotdot_rejected);
	tcase_add_test(tc, test_whiteout_name_as_directory_rejected);
	tcase_add_test(tc, test_zero_char_device_rejected);
	tcase_add_test(tc, test_overlay_private_xattrs_rejected);
	tcase_add_test(tc, test_impossible_entries_rolled_back);
	tcase_add_test(tc, test_truncated_tar_rolled_back);
	tcase_add_test(tc, test_garbage_input_rejected);
	suite_add_tcase(s, tc);
	return st_test_main(s);
}
