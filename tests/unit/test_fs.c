/* core/base/fs.c, rmtree.c: atomic writes, recursive removal that never crosses a mount or
 * follows a symlink, mkdir -p, resolution beneath a root, the tree walker,
 * xattrs (the root's too) and tree copies. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/base.h"
#include "snap.h"
#include "tartest.h"
#include "testlib.h"

static char *tmp;
static int tfd = -1;

static void setup(void)
{
	umask(022);
	tmp = st_test_mkdtemp("fs");
	ck_assert_ptr_nonnull(tmp);
	tfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(tfd, 0);
}

static void teardown(void)
{
	close(tfd);
	st_test_rmtree(tmp);
	free(tmp);
}

static size_t count_prefix(int dfd, const char *prefix)
{
	char **names;
	size_t n, k = 0;
	ck_assert_int_eq(st_list_dir(dfd, &names, &n), 0);
	for (size_t i = 0; i < n; i++)
		k += st_str_has_prefix(names[i], prefix);
	st_strv_free(names, n);
	return k;
}

START_TEST(test_atomic_write_replaces_whole_file_and_leaves_no_temp)
{
	struct st_error err = {0};
	ST_OK(st_atomic_write_at(tfd, "meta.json", "first", 5, 0600, &err), &err);
	ST_OK(st_atomic_write_at(tfd, "meta.json", "second, longer", 14, 0640, &err), &err);
	char *s;
	size_t len;
	ST_OK(st_read_file_at(tfd, "meta.json", &s, &len, &err), &err);
	ck_assert_int_eq(len, 14);
	ck_assert_str_eq(s, "second, longer");
	free(s);
	struct stat st;
	ck_assert_int_eq(fstatat(tfd, "meta.json", &st, 0), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0640);
	ck_assert_int_eq(count_prefix(tfd, ".tmp-"), 0);
	/* an empty file is a file too */
	ST_OK(st_replace_file_at(tfd, "empty", "", 0, 0600, &err), &err);
	ST_OK(st_read_file_at(tfd, "empty", &s, &len, &err), &err);
	ck_assert_int_eq(len, 0);
	free(s);
}
END_TEST

START_TEST(test_atomic_write_failure_keeps_old_content)
{
	struct st_error err = {0};
	ck_assert_int_eq(mkdirat(tfd, "taken", 0755), 0);
	ck_assert_int_eq(mkdirat(tfd, "taken/child", 0755), 0);
	int r = st_atomic_write_at(tfd, "taken", "x", 1, 0600, &err);
	ck_assert_int_lt(r, 0);
	ck_assert_msg(strstr(err.msg, "taken") != NULL, "error does not name the file: %s", err.msg);
	ck_assert_int_eq(count_prefix(tfd, ".tmp-"), 0);
	ck_assert(st_test_exists(tmp, "taken/child"));
	/* reading what is not there names it */
	ck_assert_int_eq(st_read_file_at(tfd, "missing", &(char *){NULL}, NULL, &err), -ENOENT);
	ck_assert_msg(strstr(err.msg, "missing") != NULL, "%s", err.msg);
	/* a symlink is not followed */
	ck_assert_int_eq(symlinkat("/etc/hostname", tfd, "link"), 0);
	ck_assert_int_lt(st_read_file_at(tfd, "link", &(char *){NULL}, NULL, &err), 0);
}
END_TEST

START_TEST(test_rm_rf_removes_readonly_trees_without_following_symlinks)
{
	struct st_error err = {0};
	ck_assert_int_eq(st_test_sh("cd '%s' && mkdir -p victim/a/b outside && echo keep > outside/keep"
				    " && echo x > victim/a/b/f && ln -s ../../outside victim/a/out"
				    " && ln -s /etc victim/etc && mkfifo victim/fifo && chmod 0500 victim/a/b victim/a"
				    " && chmod 0 victim",
				    tmp),
			 0);
	ST_OK(st_rm_rf_at(tfd, "victim", &err), &err);
	ck_assert(!st_test_exists(tmp, "victim"));
	char *s = st_test_read(tmp, "outside/keep");
	ck_assert_str_eq(s, "keep\n");
	free(s);
	ck_assert_int_eq(access("/etc/passwd", F_OK), 0);
	/* a missing name is not an error; a file is removed too */
	ST_OK(st_rm_rf_at(tfd, "victim", &err), &err);
	st_test_write(tmp, "plain", "p");
	ST_OK(st_rm_rf_at(tfd, "plain", &err), &err);
	ck_assert(!st_test_exists(tmp, "plain"));
}
END_TEST

/* A mount inside the tree stops the removal: its content must survive. */
START_TEST(test_rm_rf_never_crosses_a_mount)
{
	if (unshare(CLONE_NEWNS) < 0)
		ST_SKIP("unshare(CLONE_NEWNS): %s", strerror(errno));
	ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	struct st_error err = {0};
	ck_assert_int_eq(st_test_sh("mkdir -p '%s/tree/sub/mnt' && echo t > '%s/tree/sub/file'", tmp, tmp), 0);
	char mnt[PATH_MAX];
	snprintf(mnt, sizeof(mnt), "%s/tree/sub/mnt", tmp);
	ck_assert_int_eq(mount("tmpfs", mnt, "tmpfs", 0, "size=1m"), 0);
	st_test_write(mnt, "precious", "do not delete\n");
	int r = st_rm_rf_at(tfd, "tree", &err);
	ck_assert_int_eq(r, -EBUSY);
	ck_assert_msg(strstr(err.msg, "mnt") != NULL, "error does not name the mount point: %s", err.msg);
	char *s = st_test_read(mnt, "precious");
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, "do not delete\n");
	free(s);
	/* the same through st_remove_at: the trash stays until the mount goes */
	r = st_remove_at(tfd, "tree", &err);
	ck_assert_int_lt(r, 0);
	ck_assert_int_eq(count_prefix(tfd, ".trash-"), 1);
	char **names;
	size_t n;
	ck_assert_int_eq(st_list_dir(tfd, &names, &n), 0);
	char moved[PATH_MAX];
	snprintf(moved, sizeof(moved), "%s/%s/sub/mnt", tmp, names[0]);
	st_strv_free(names, n);
	s = st_test_read(moved, "precious");
	ck_assert_ptr_nonnull(s);
	free(s);
	ck_assert_int_eq(umount(moved), 0);
	ST_OK(st_trash_sweep(tfd, &err), &err);
	ck_assert_int_eq(count_prefix(tfd, ".trash-"), 0);
}
END_TEST

START_TEST(test_remove_at_renames_then_deletes_and_sweep_finishes)
{
	struct st_error err = {0};
	ck_assert_int_eq(st_test_sh("mkdir -p '%s/layer/a' '%s/.trash-old-1234/x' '%s/.tmp-half/y' && touch '%s/.tmp-file'",
				    tmp, tmp, tmp, tmp),
			 0);
	ST_OK(st_remove_at(tfd, "layer", &err), &err);
	ck_assert(!st_test_exists(tmp, "layer"));
	ST_OK(st_remove_at(tfd, "layer", &err), &err); /* gone already: fine */
	ST_OK(st_trash_sweep(tfd, &err), &err);
	ck_assert_int_eq(count_prefix(tfd, ".trash-"), 0);
	ck_assert_int_eq(count_prefix(tfd, ".tmp-"), 0);
}
END_TEST

START_TEST(test_mkdir_p_creates_and_refuses_escapes)
{
	struct st_error err = {0};
	ST_OK(st_mkdir_p_at(tfd, "a/b/./c//d", 0700, &err), &err);
	struct stat st;
	ck_assert_int_eq(fstatat(tfd, "a/b/c/d", &st, 0), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	ST_OK(st_mkdir_p_at(tfd, "a/b/c/d", 0700, &err), &err); /* exists: fine */
	ck_assert_int_lt(st_mkdir_p_at(tfd, "a/../../escape", 0700, &err), 0);
	ck_assert_msg(strstr(err.msg, "..") != NULL, "%s", err.msg);
	ck_assert(!st_test_exists(tmp, "../escape"));
	/* a symlinked component is not followed */
	ck_assert_int_eq(st_test_sh("mkdir -p '%s/elsewhere' && ln -s elsewhere '%s/sl'", tmp, tmp), 0);
	ck_assert_int_lt(st_mkdir_p_at(tfd, "sl/x", 0700, &err), 0);
	ck_assert(!st_test_exists(tmp, "elsewhere/x"));
	/* a file in the way */
	st_test_write(tmp, "file", "f");
	ck_assert_int_lt(st_mkdir_p_at(tfd, "file/x", 0700, &err), 0);
	ck_assert_msg(strstr(err.msg, "file") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(test_open_beneath_stays_inside_root)
{
	ck_assert_int_eq(st_test_sh("cd '%s' && mkdir -p root/dir outside && echo s > outside/secret"
				    " && ln -s ../outside root/up && ln -s /etc root/abs && ln -s dir root/in"
				    " && echo f > root/dir/f",
				    tmp),
			 0);
	int root = openat(tfd, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(root, 0);
	ck_assert_int_eq(st_open_beneath(root, "../outside/secret", O_RDONLY, 0), -EXDEV);
	ck_assert_int_eq(st_open_beneath(root, "up/secret", O_RDONLY, 0), -EXDEV);
	ck_assert_int_eq(st_open_beneath(root, "abs/passwd", O_RDONLY, 0), -EXDEV);
	ck_assert_int_eq(st_open_beneath(root, "/etc/passwd", O_RDONLY, 0), -EXDEV);
	int fd = st_open_beneath(root, "in/f", O_RDONLY, 0);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(st_open_nofollow(root, "in/f", O_RDONLY, 0), -ELOOP);
	fd = st_open_nofollow(root, "dir/f", O_RDONLY, 0);
	ck_assert_int_ge(fd, 0);
	close(fd);
	/* creating beneath: a dangling symlink to outside is not a way out */
	ck_assert_int_eq(symlinkat("../outside/new", root, "dangling"), 0);
	ck_assert_int_lt(st_open_beneath(root, "dangling", O_WRONLY | O_CREAT, 0644), 0);
	ck_assert(!st_test_exists(tmp, "outside/new"));
	struct st_error err = {0};
	ck_assert_int_lt(st_open_dir(root, "up", &err), 0);
	ck_assert_msg(strstr(err.msg, "up") != NULL, "%s", err.msg);
	close(root);
}
END_TEST

struct walk_log {
	struct tt_buf b;
	const char *skip;
};

static int walk_cb(void *ctx, const struct st_walk_ent *e)
{
	struct walk_log *w = ctx;
	char line[PATH_MAX + 16];
	snprintf(line, sizeof(line), "%s%s@%d\n", e->post ? "post " : "", e->path, e->depth);
	tt_buf_add(&w->b, line, strlen(line));
	return (!e->post && w->skip && strcmp(e->path, w->skip) == 0) ? 1 : 0;
}

START_TEST(test_walk_is_sorted_depth_first_and_skips_on_request)
{
	ck_assert_int_eq(st_test_sh("cd '%s' && mkdir -p t/b/y t/a t/c && touch t/b/x t/b/y/z t/a.txt t/c/q"
				    " && ln -s ../.. t/loop",
				    tmp),
			 0);
	int root = openat(tfd, "t", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct walk_log w = {.skip = "c"};
	struct st_error err = {0};
	ST_OK(st_walk(root, walk_cb, &w, &err), &err);
	tt_buf_add(&w.b, "", 1);
	ck_assert_str_eq((char *)w.b.data, "a@1\npost a@1\na.txt@1\nb@1\nb/x@2\nb/y@2\nb/y/z@3\npost b/y@2\npost b@1\n"
					   "c@1\nloop@1\n");
	tt_buf_free(&w.b);
	close(root);
}
END_TEST

START_TEST(test_xattrs_of_the_root_itself)
{
	struct st_error err = {0};
	ck_assert_int_eq(mkdirat(tfd, "d", 0755), 0);
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/d", tmp);
	ck_assert_int_eq(setxattr(p, "user.root", "r", 1, 0), 0);
	int d = openat(tfd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct st_xattrs x = {0};
	ck_assert_int_eq(st_xattrs_read(d, "", &x), 0);
	ck_assert_msg(x.n == 1 && strcmp(x.v[0].name, "user.root") == 0, "root xattrs not read (%zu)", x.n);
	/* and set on another root */
	ck_assert_int_eq(mkdirat(tfd, "e", 0755), 0);
	int e = openat(tfd, "e", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ST_OK(st_xattrs_apply(e, "", &x, &err), &err);
	char v[8];
	snprintf(p, sizeof(p), "%s/e", tmp);
	ck_assert_int_eq(getxattr(p, "user.root", v, sizeof(v)), 1);
	st_xattrs_free(&x);
	close(d);
	close(e);
}
END_TEST

START_TEST(test_copy_tree_keeps_everything)
{
	struct st_error err = {0};
	ck_assert_int_eq(st_test_sh("cd '%s' && mkdir -p src/d/e dst && echo a > src/d/a && ln src/d/a src/hard"
				    " && ln -s d/a src/sym && mkfifo src/fifo && mknod src/null c 1 3"
				    " && chown 1:2 src/d && chmod 01750 src/d && chmod 04711 src/d/a"
				    " && truncate -s 4M src/sparse && echo tail >> src/sparse"
				    " && chmod 0750 src",
				    tmp),
			 0);
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/src/d/a", tmp);
	ck_assert_int_eq(lsetxattr(p, "user.k", "val", 3, 0), 0);
	snprintf(p, sizeof(p), "%s/src", tmp);
	ck_assert_int_eq(lsetxattr(p, "user.root", "top", 3, 0), 0);
	ck_assert_int_eq(st_test_sh("cd '%s' && touch -d @1500000000 src/d/a src/d src", tmp), 0);
	int s = openat(tfd, "src", O_RDONLY | O_DIRECTORY | O_CLOEXEC), t = openat(tfd, "dst", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ST_OK(st_copy_tree(s, t, &err), &err);
	char a[PATH_MAX], b[PATH_MAX];
	snprintf(a, sizeof(a), "%s/src", tmp);
	snprintf(b, sizeof(b), "%s/dst", tmp);
	int flags = SNAP_ROOT | SNAP_MTIME | SNAP_NSEC | SNAP_DIR_MTIME | SNAP_SPARSE;
	char *sa = snap_tree(a, flags), *sb = snap_tree(b, flags);
	ck_assert_snap_eq(sa, sb, "a copy (the root's own metadata and xattrs too) against its source");
	free(sa);
	free(sb);
	close(s);
	close(t);
}
END_TEST

START_TEST(test_tree_size_counts_each_inode_once)
{
	ck_assert_int_eq(st_test_sh("cd '%s' && mkdir t && head -c 1000 /dev/zero > t/a && ln t/a t/b"
				    " && head -c 24 /dev/zero > t/c && ln -s a t/l && mkdir t/d",
				    tmp),
			 0);
	int t = openat(tfd, "t", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct st_error err = {0};
	ck_assert_int_eq(st_tree_size(t, &err), 1024);
	close(t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fs");
	TCase *tc = tcase_create("fs");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_atomic_write_replaces_whole_file_and_leaves_no_temp);
	tcase_add_test(tc, test_atomic_write_failure_keeps_old_content);
	tcase_add_test(tc, test_rm_rf_removes_readonly_trees_without_following_symlinks);
	tcase_add_test(tc, test_rm_rf_never_crosses_a_mount);
	tcase_add_test(tc, test_remove_at_renames_then_deletes_and_sweep_finishes);
	tcase_add_test(tc, test_mkdir_p_creates_and_refuses_escapes);
	tcase_add_test(tc, test_open_beneath_stays_inside_root);
	tcase_add_test(tc, test_walk_is_sorted_depth_first_and_skips_on_request);
	tcase_add_test(tc, test_xattrs_of_the_root_itself);
	tcase_add_test(tc, test_copy_tree_keeps_everything);
	tcase_add_test(tc, test_tree_size_counts_each_inode_once);
	suite_add_tcase(s, tc);
	return st_test_main(s);
}
