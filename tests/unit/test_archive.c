/* core/archive/apply.c and core/archive/diff.c: layer tars written from trees and applied
 * to trees, whiteouts in the three on-disk formats, opaque directories,
 * sparse files, hardlinks, xattrs, and the change list of two trees. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "archive/archive.h"
#include "snap.h"
#include "tartest.h"
#include "testlib.h"

static char *tmp;

static void setup(void)
{
	umask(0);
	tmp = st_test_mkdtemp("archive");
	ck_assert_ptr_nonnull(tmp);
}

static void teardown(void)
{
	st_test_rmtree(tmp);
	free(tmp);
}

static char *dir(const char *name)
{
	static char p[4][PATH_MAX];
	static int k;
	char *r = p[k++ % 4];
	snprintf(r, PATH_MAX, "%s/%s", tmp, name);
	return r;
}

static int opendir_fd(const char *name)
{
	char *p = dir(name);
	mkdir(p, 0755);
	int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	return fd;
}

static int64_t apply(const char *name, const struct tt_buf *b, enum st_whiteout_format wh, struct st_error *err)
{
	int fd = opendir_fd(name);
	struct tt_memreader m;
	struct st_tar_in in;
	int64_t r = st_tar_in_init(&in, tt_memreader(&m, b->data, b->len, 1000), err);
	if (r >= 0) {
		struct st_apply_opts o = {.wh = wh};
		r = st_archive_apply(fd, &in, &o, err);
		st_tar_in_free(&in);
	}
	close(fd);
	return r;
}

static void apply_ok(const char *name, const struct tt_buf *b, enum st_whiteout_format wh)
{
	struct st_error err = {0};
	ST_OK(apply(name, b, wh, &err), &err);
}

static void write_tree(const char *name, enum st_whiteout_format wh, struct tt_buf *out)
{
	int fd = opendir_fd(name);
	struct tt_memwriter m;
	struct st_error err = {0};
	ST_OK(st_archive_write_tree(fd, wh, tt_memwriter(&m), &err), &err);
	close(fd);
	*out = m.buf;
}

static void sh(const char *fmt, const char *arg)
{
	ck_assert_msg(st_test_sh(fmt, arg, arg, arg, arg) == 0, "shell: %s", fmt);
}

/* A tree with every kind of entry and fixed (whole-second) times. */
static void make_rich_tree(const char *name)
{
	char *p = dir(name);
	sh("mkdir -p '%s' && cd '%s' && mkdir -p d/e sticky && echo a > d/a && ln d/a d/e/hard && ln d/a hard2"
	   " && ln -s d/a sym && ln -s /nowhere dangling && mkfifo fifo && mknod chr c 1 3 && mknod blk b 7 0"
	   " && chmod 04755 d/a && chmod 01777 sticky && chown 1:2 d/e && chmod 0705 d/e && : > empty"
	   " && truncate -s 5M sparse && printf tail >> sparse && truncate -s 3M allholes && printf head > headonly && truncate -s 4M headonly",
	   p);
	char f[PATH_MAX];
	snprintf(f, sizeof(f), "%s/d/a", p);
	ck_assert_int_eq(lsetxattr(f, "user.bin", "\0\1\2", 3, 0), 0);
	const unsigned char cap[20] = {0x01, 0, 0, 0x02, 0x00, 0x04, 0, 0};
	snprintf(f, sizeof(f), "%s/empty", p);
	ck_assert_int_eq(lsetxattr(f, "security.capability", cap, sizeof(cap), 0), 0);
	snprintf(f, sizeof(f), "%s/d", p);
	ck_assert_int_eq(lsetxattr(f, "user.dir", "yes", 3, 0), 0);
	sh("cd '%s' && find . -mindepth 1 -depth -not -type l -exec touch -h -d @1500000000 {} +", p);
}

START_TEST(test_tree_round_trip_keeps_every_kind_of_entry)
{
	make_rich_tree("src");
	struct tt_buf tar;
	write_tree("src", ST_WH_DELETE, &tar);
	struct st_error err = {0};
	int64_t n = apply("dst", &tar, ST_WH_DELETE, &err);
	ck_assert_msg(n >= 0, "%s", err.msg);
	int sfd = opendir_fd("src");
	ck_assert_int_eq(n, st_tree_size(sfd, &err));
	close(sfd);
	int flags = SNAP_MTIME | SNAP_DIR_MTIME | SNAP_SPARSE;
	char *a = snap_tree(dir("src"), flags), *b = snap_tree(dir("dst"), flags);
	ck_assert_snap_eq(a, b, "a tree written and applied");
	ck_assert_ptr_nonnull(strstr(b, "size=5242884 "));
	ck_assert_msg(strstr(b, " sparse mtime=") != NULL, "the sparse file lost its holes:\n%s", b);
	free(a);
	free(b);
	tt_buf_free(&tar);
}
END_TEST

START_TEST(test_tree_tar_is_deterministic)
{
	char *p = dir("one");
	sh("mkdir -p '%s' && cd '%s' && mkdir z a && echo 1 > z/f && echo 2 > a/g && echo 3 > m && ln m a/m2", p);
	sh("cd '%s' && find . -mindepth 1 -depth -exec touch -h -d @1400000000 {} +", p);
	p = dir("two");
	sh("mkdir -p '%s' && cd '%s' && echo 3 > m && mkdir a && ln m a/m2 && echo 2 > a/g && mkdir z && echo 1 > z/f", p);
	sh("cd '%s' && find . -mindepth 1 -depth -exec touch -h -d @1400000000 {} +", p);
	struct tt_buf t1, t2, t3;
	write_tree("one", ST_WH_DELETE, &t1);
	write_tree("two", ST_WH_DELETE, &t2);
	write_tree("one", ST_WH_DELETE, &t3);
	ck_assert_int_eq(t1.len, t2.len);
	ck_assert_msg(memcmp(t1.data, t2.data, t1.len) == 0, "two equal trees made in another order give other bytes");
	ck_assert_msg(t1.len == t3.len && memcmp(t1.data, t3.data, t1.len) == 0, "the same tree twice differs");
	char *list = tt_tar_list(t1.data, t1.len);
	ck_assert_str_eq(list, "d a/\nf a/g\nf a/m2\nh m -> a/m2\nd z/\nf z/f\n");
	free(list);
	tt_buf_free(&t1);
	tt_buf_free(&t2);
	tt_buf_free(&t3);
}
END_TEST

START_TEST(test_whiteouts_as_real_deletes)
{
	char *p = dir("lower");
	sh("mkdir -p '%s' && cd '%s' && echo a > a && echo b > b && mkdir -p d/sub e && echo x > d/x && echo y > d/sub/y"
	   " && echo k > e/k",
	   p);
	struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, -1);
	tt_file(t, ".wh.a", 0, "");
	tt_file(t, "d/kept-new", 0644, "made before the marker\n");
	tt_file(t, "d/.wh..wh..opq", 0, "");
	tt_file(t, "d/new", 0644, "new\n");
	tt_file(t, "e/.wh.not-there", 0, "");
	tt_file(t, "fresh/.wh..wh..opq", 0, "");
	struct tt_buf b;
	tt_tar_finish(t, &b);
	apply_ok("lower", &b, ST_WH_DELETE);
	ck_assert(!st_test_exists(p, "a") && st_test_exists(p, "b"));
	ck_assert(!st_test_exists(p, "d/x") && !st_test_exists(p, "d/sub"));
	ck_assert(st_test_exists(p, "d/new") && st_test_exists(p, "d/kept-new"));
	ck_assert(st_test_exists(p, "e/k") && st_test_exists(p, "fresh"));
	ck_assert(!st_test_exists(p, ".wh.a") && !st_test_exists(p, "d/.wh..wh..opq"));
	tt_buf_free(&b);
}
END_TEST

START_TEST(test_whiteouts_in_overlay_format)
{
	struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, -1);
	tt_file(t, ".wh.a", 0, "");
	tt_dir(t, "d", 0750);
	tt_file(t, "d/.wh..wh..opq", 0, "");
	tt_file(t, "d/new", 0644, "new\n");
	tt_file(t, "e/.wh.gone", 0, "");
	struct tt_buf b;
	tt_tar_finish(t, &b);
	apply_ok("upper", &b, ST_WH_OVERLAY);
	char *p = dir("upper"), f[PATH_MAX];
	struct stat st;
	snprintf(f, sizeof(f), "%s/a", p);
	ck_assert_int_eq(lstat(f, &st), 0);
	ck_assert_msg(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0), "a is not a 0/0 character device");
	snprintf(f, sizeof(f), "%s/e/gone", p);
	ck_assert_int_eq(lstat(f, &st), 0);
	ck_assert(S_ISCHR(st.st_mode) && st.st_rdev == 0);
	snprintf(f, sizeof(f), "%s/d", p);
	char v[4];
	ck_assert_int_eq(lgetxattr(f, "trusted.overlay.opaque", v, sizeof(v)), 1);
	ck_assert_int_eq(v[0], 'y');
	ck_assert(!st_test_exists(p, ".wh.a") && !st_test_exists(p, "d/.wh..wh..opq"));
	/* and back to OCI names */
	struct tt_buf back;
	write_tree("upper", ST_WH_OVERLAY, &back);
	char *list = tt_tar_list(back.data, back.len);
	ck_assert_str_eq(list, "f .wh.a\nd d/\nf d/.wh..wh..opq\nf d/new\nd e/\nf e/.wh.gone\n");
	free(list);
	/* no overlay xattr leaks into the tar */
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	archive_read_open_memory(a, back.data, back.len);
	struct archive_entry *e;
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		const char *name;
		const void *val;
		size_t len;
		archive_entry_xattr_reset(e);
		while (archive_entry_xattr_next(e, &name, &val, &len) == ARCHIVE_OK)
			ck_assert_msg(!st_str_has_prefix(name, "trusted.overlay."), "%s in the tar", name);
	}
	archive_read_free(a);
	/* applied as real deletes on a lower tree, it hides what it should */
	sh("mkdir -p '%s' && cd '%s' && echo a > a && mkdir -p d e && echo old > d/old && echo g > e/gone && echo k > keep",
	   dir("lower"));
	apply_ok("lower", &back, ST_WH_DELETE);
	p = dir("lower");
	ck_assert(!st_test_exists(p, "a") && !st_test_exists(p, "d/old") && !st_test_exists(p, "e/gone"));
	ck_assert(st_test_exists(p, "d/new") && st_test_exists(p, "keep"));
	tt_buf_free(&b);
	tt_buf_free(&back);
}
END_TEST

START_TEST(test_whiteouts_in_aufs_format)
{
	struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, -1);
	tt_file(t, ".wh.a", 0, "");
	tt_file(t, "d/.wh..wh..opq", 0, "");
	tt_file(t, "d/new", 0644, "new\n");
	tt_file(t, ".wh..wh.aufs", 0, "");
	struct tt_buf b;
	tt_tar_finish(t, &b);
	apply_ok("branch", &b, ST_WH_AUFS);
	char *p = dir("branch");
	ck_assert(st_test_exists(p, ".wh.a") && st_test_exists(p, "d/.wh..wh..opq") && st_test_exists(p, "d/new"));
	ck_assert(!st_test_exists(p, ".wh..wh.aufs"));
	/* aufs' own bookkeeping in the branch stays out of the tar */
	sh("mkdir -p '%s/.wh..wh.plnk' && echo x > '%s/.wh..wh.plnk/123.456' && : > '%s/.wh..wh.aufs'", p);
	struct tt_buf back;
	write_tree("branch", ST_WH_AUFS, &back);
	char *list = tt_tar_list(back.data, back.len);
	ck_assert_str_eq(list, "f .wh.a\nd d/\nf d/.wh..wh..opq\nf d/new\n");
	free(list);
	tt_buf_free(&b);
	tt_buf_free(&back);
}
END_TEST

/* Layers made by Docker's aufs driver may carry its metadata directory;
 * Docker skips it on apply, and so must we. */
START_TEST(test_aufs_metadata_entries_are_skipped)
{
	struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, -1);
	tt_dir(t, ".wh..wh.plnk", 0700);
	tt_file(t, ".wh..wh.plnk/1234.5678", 0644, "hardlink bookkeeping\n");
	tt_dir(t, ".wh..wh.orph", 0700);
	tt_file(t, "real", 0644, "content\n");
	struct tt_buf b;
	tt_tar_finish(t, &b);
	enum st_whiteout_format f[] = {ST_WH_DELETE, ST_WH_OVERLAY, ST_WH_AUFS};
	for (size_t i = 0; i < 3; i++) {
		char name[32];
		snprintf(name, sizeof(name), "t%zu", i);
		apply_ok(name, &b, f[i]);
		char *s = snap_tree(dir(name), 0);
		ck_assert_msg(strncmp(s, "real f", 6) == 0 && strchr(s, '\n')[1] == '\0', "format %zu:\n%s", i, s);
		free(s);
	}
	tt_buf_free(&b);
}
END_TEST

START_TEST(test_sparse_files_stay_sparse)
{
	int64_t offs[] = {0, 3 << 20}, lens[] = {4096, 8192};
	struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, -1);
	tt_sparse(t, "holes", 8 << 20, offs, lens, 2, 'z');
	struct tt_buf b;
	tt_tar_finish(t, &b);
	ck_assert_msg(b.len < 64 * 1024, "the sparse tar is %zu bytes", b.len);
	struct st_error err = {0};
	int64_t n = apply("dst", &b, ST_WH_DELETE, &err);
	ck_assert_msg(n == 8 << 20, "applied %lld: %s", (long long)n, err.msg);
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/holes", dir("dst"));
	struct stat st;
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_size, 8 << 20);
	ck_assert_msg(st.st_blocks * 512 < (1 << 20), "holes filled in: %lld bytes", (long long)st.st_blocks * 512);
	char *c = st_test_read(dir("dst"), "holes");
	ck_assert_int_eq(c[0], 'z');
	ck_assert_int_eq(c[4095], 'z');
	ck_assert_int_eq(c[4096], 0);
	free(c);
	int fd = open(p, O_RDONLY);
	char buf[8192];
	ck_assert_int_eq(pread(fd, buf, sizeof(buf), 3 << 20), 8192);
	ck_assert_int_eq(buf[0], 'z');
	ck_assert_int_eq(buf[8191], 'z');
	ck_assert_int_eq(pread(fd, buf, 10, (8 << 20) - 10), 10);
	ck_assert_int_eq(buf[9], 0);
	close(fd);
	/* written again from the tree, still sparse */
	struct tt_buf again;
	write_tree("dst", ST_WH_DELETE, &again);
	ck_assert_msg(again.len < 64 * 1024, "the rewritten tar is %zu bytes", again.len);
	apply_ok("dst2", &again, ST_WH_DELETE);
	char *a = snap_tree(dir("dst"), SNAP_SPARSE), *z = snap_tree(dir("dst2"), SNAP_SPARSE);
	ck_assert_snap_eq(a, z, "a sparse file through two tars");
	ck_assert_ptr_nonnull(strstr(z, " sparse"));
	free(a);
	free(z);
	tt_buf_free(&b);
	tt_buf_free(&again);
}
END_TEST

START_TEST(test_hardlinks_and_xattrs_applied)
{
	sh("mkdir -p '%s/lower' && echo l > '%s/lower/base'", dir("dst"));
	struct tt_attr at = {.uid = 3, .gid = 4,
			     .xattr_name = {"user.a", "user.b", "security.capability"},
			     .xattr_val = {"1", "\0\xff", "\x01\0\0\x02\0\x04\0\0\0\0\0\0\0\0\0\0\0\0\0\0"},
			     .xattr_len = {1, 2, 20}};
	struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, -1);
	tt_file_data(t, "f", 04755, "file\n", 5, &at);
	tt_hardlink(t, "sub/g", "f");
	tt_hardlink(t, "./h", "./f");
	tt_hardlink(t, "lower/link-to-lower", "lower/base");
	struct tt_buf b;
	tt_tar_finish(t, &b);
	struct st_error err = {0};
	int64_t n = apply("dst", &b, ST_WH_DELETE, &err);
	ck_assert_msg(n == 5, "applied %lld: %s", (long long)n, err.msg);
	char *p = dir("dst"), f[PATH_MAX], g[PATH_MAX];
	struct stat a, c;
	snprintf(f, sizeof(f), "%s/f", p);
	snprintf(g, sizeof(g), "%s/sub/g", p);
	ck_assert_int_eq(lstat(f, &a), 0);
	ck_assert_int_eq(lstat(g, &c), 0);
	ck_assert_int_eq(a.st_ino, c.st_ino);
	ck_assert_int_eq(a.st_nlink, 3);
	ck_assert_int_eq(a.st_mode & 07777, 04755); /* setuid kept after chown */
	ck_assert_int_eq(a.st_uid, 3);
	char v[32];
	ck_assert_int_eq(lgetxattr(f, "user.b", v, sizeof(v)), 2);
	ck_assert_int_eq((unsigned char)v[1], 0xff);
	ck_assert_int_eq(lgetxattr(f, "security.capability", v, sizeof(v)), 20);
	snprintf(f, sizeof(f), "%s/lower/base", p);
	ck_assert_int_eq(lstat(f, &a), 0);
	ck_assert_int_eq(a.st_nlink, 2);
	tt_buf_free(&b);
}
END_TEST

START_TEST(test_apply_replaces_existing_entries_without_following_them)
{
	char *p = dir("dst");
	sh("mkdir -p '%s/was-dir/child' '%s/../outside' && echo f > '%s/was-file' && ln -s ../outside/target '%s/was-link'", p);
	sh("echo outside > '%s/../outside/target' && mkdir -p '%s/keepdir/inner' && chmod 0700 '%s/keepdir'", p);
	struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, -1);
	tt_file(t, "was-dir", 0644, "now a file\n");
	tt_dir(t, "was-file", 0711);
	tt_file(t, "was-link", 0600, "replaced the link, not its target\n");
	tt_dir(t, "keepdir", 0755);
	struct tt_buf b;
	tt_tar_finish(t, &b);
	apply_ok("dst", &b, ST_WH_DELETE);
	char *s = st_test_read(p, "was-dir");
	ck_assert_str_eq(s, "now a file\n");
	free(s);
	s = st_test_read(p, "../outside/target");
	ck_assert_str_eq(s, "outside\n");
	free(s);
	struct stat st;
	char f[PATH_MAX];
	snprintf(f, sizeof(f), "%s/was-link", p);
	ck_assert_int_eq(lstat(f, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	snprintf(f, sizeof(f), "%s/was-file", p);
	ck_assert_int_eq(lstat(f, &st), 0);
	ck_assert(S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0711);
	/* a directory entry over a directory changes its metadata, keeps its children */
	ck_assert(st_test_exists(p, "keepdir/inner"));
	snprintf(f, sizeof(f), "%s/keepdir", p);
	ck_assert_int_eq(lstat(f, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0755);
	ck_assert_int_eq(st.st_mtime, 1600000000);
	tt_buf_free(&b);
}
END_TEST

START_TEST(test_root_entry_sets_the_root_metadata)
{
	struct tt_attr at = {.uid = 5, .gid = 6, .mtime = 1300000000,
			     .xattr_name = {"user.root"}, .xattr_val = {"r"}, .xattr_len = {1}};
	struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, -1);
	tt_dir_attr(t, "./", 0750, &at);
	tt_file(t, "./inside", 0644, "x");
	struct tt_buf b;
	tt_tar_finish(t, &b);
	apply_ok("root", &b, ST_WH_DELETE);
	struct stat st;
	ck_assert_int_eq(stat(dir("root"), &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0750);
	ck_assert_int_eq(st.st_uid, 5);
	ck_assert_int_eq(st.st_mtime, 1300000000);
	char v[4];
	ck_assert_int_eq(getxattr(dir("root"), "user.root", v, sizeof(v)), 1);
	tt_buf_free(&b);
}
END_TEST

static char *changes(const char *layer, const char *parent, const struct timespec *settled)
{
	int l = opendir_fd(layer), p = parent ? opendir_fd(parent) : -1;
	struct st_changes c;
	struct st_error err = {0};
	ST_OK(st_changes_compute(l, p, settled, &c, &err), &err);
	struct tt_buf b = {0};
	for (size_t i = 0; i < c.n; i++) {
		char line[PATH_MAX];
		snprintf(line, sizeof(line), "%c %s\n", c.v[i].kind, c.v[i].path);
		tt_buf_add(&b, line, strlen(line));
	}
	tt_buf_add(&b, "", 1);
	st_changes_free(&c);
	close(l);
	if (p >= 0)
		close(p);
	return (char *)b.data;
}

START_TEST(test_changes_follow_docker_semantics)
{
	sh("mkdir -p '%s' && cd '%s' && mkdir -p a/b del/sub keep && echo one > a/b/f && echo s > same && echo d > del/sub/x"
	   " && echo k > keep/k && echo t > typechange && mkdir dir2file && echo q > dir2file/q",
	   dir("lower"));
	sh("cd '%s' && find . -mindepth 1 -depth -exec touch -h -d @1500000000 {} +", dir("lower"));
	ck_assert_int_eq(st_test_sh("cp -a '%s' '%s'", dir("lower"), dir("upper")), 0);
	char *u = dir("upper");
	sh("cd '%s' && echo two > a/b/f && touch -d @1500000000 a/b/f && rm -r del && echo n > keep/new"
	   " && rm typechange && mkdir typechange && echo i > typechange/i && rm -r dir2file && echo f > dir2file",
	   u);
	char *got = changes("upper", "lower", NULL);
	ck_assert_str_eq(got, "C /a\nC /a/b\nC /a/b/f\nD /del\nC /dir2file\nC /keep\nA /keep/new\nC /typechange\n"
			      "A /typechange/i\n");
	free(got);
	/* a same-size, same-mtime rewrite is found by content, unless its
	 * inode was settled (untouched since the layer was made) */
	struct timespec later;
	clock_gettime(CLOCK_REALTIME, &later);
	later.tv_sec += 5;
	got = changes("upper", "lower", &later);
	ck_assert_msg(strstr(got, "C /a/b/f\n") == NULL, "a settled inode was compared by content:\n%s", got);
	free(got);
	got = changes("lower", NULL, NULL);
	ck_assert_str_eq(got, "A /a\nA /a/b\nA /a/b/f\nA /del\nA /del/sub\nA /del/sub/x\nA /dir2file\nA /dir2file/q\n"
			      "A /keep\nA /keep/k\nA /same\nA /typechange\n");
	free(got);
}
END_TEST

START_TEST(test_changes_written_as_a_tar_reproduce_the_layer)
{
	sh("mkdir -p '%s' && cd '%s' && mkdir -p a/b del/sub && echo one > a/b/f && echo d > del/sub/x && echo x > x", dir("lower"));
	ck_assert_int_eq(st_test_sh("cp -a '%s' '%s' && cp -a '%s' '%s'", dir("lower"), dir("upper"), dir("lower"), dir("copy")), 0);
	sh("cd '%s' && echo two > a/b/f && rm -r del x && mkdir -p new/deep && echo n > new/deep/n && ln new/deep/n hl && chmod 0700 a", dir("upper"));
	int l = opendir_fd("upper"), p = opendir_fd("lower");
	struct st_changes c;
	struct st_error err = {0};
	ST_OK(st_changes_compute(l, p, NULL, &c, &err), &err);
	struct tt_memwriter m;
	ST_OK(st_archive_write_changes(l, &c, tt_memwriter(&m), &err), &err);
	int64_t size = st_changes_size(l, &c, &err);
	st_changes_free(&c);
	close(l);
	close(p);
	char *list = tt_tar_list(m.buf.data, m.buf.len);
	ck_assert_str_eq(list, "d a/\nd a/b/\nf a/b/f\nf .wh.del\nf hl\nd new/\nd new/deep/\nh new/deep/n -> hl\nf .wh.x\n");
	free(list);
	int64_t n = apply("copy", &m.buf, ST_WH_DELETE, &err);
	ck_assert_int_eq(n, size);
	char *a = snap_tree(dir("upper"), SNAP_MTIME), *b = snap_tree(dir("copy"), SNAP_MTIME);
	ck_assert_snap_eq(a, b, "the lower tree with the changes applied");
	free(a);
	free(b);
	tt_buf_free(&m.buf);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("archive");
	TCase *tc = tcase_create("archive");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_tree_round_trip_keeps_every_kind_of_entry);
	tcase_add_test(tc, test_tree_tar_is_deterministic);
	tcase_add_test(tc, test_whiteouts_as_real_deletes);
	tcase_add_test(tc, test_whiteouts_in_overlay_format);
	tcase_add_test(tc, test_whiteouts_in_aufs_format);
	tcase_add_test(tc, test_aufs_metadata_entries_are_skipped);
	tcase_add_test(tc, test_sparse_files_stay_sparse);
	tcase_add_test(tc, test_hardlinks_and_xattrs_applied);
	tcase_add_test(tc, test_apply_replaces_existing_entries_without_following_them);
	tcase_add_test(tc, test_root_entry_sets_the_root_metadata);
	tcase_add_test(tc, test_changes_follow_docker_semantics);
	tcase_add_test(tc, test_changes_written_as_a_tar_reproduce_the_layer);
	suite_add_tcase(s, tc);
	return st_test_main(s);
}
