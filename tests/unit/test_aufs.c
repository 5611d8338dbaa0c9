/* The aufs driver without an aufs kernel: mount option strings (the page
 * split into remount appends, with 200 layers), Docker's layer-chain files,
 * the probe's reasons, and, on plain directories, everything a layer does
 * but mount: apply writes aufs whiteouts, the branch diffs back to the same
 * content, changes match the generic compare of the merged trees (built
 * here with the vfs driver from the same tars), aufs-internal files never
 * leak, a Docker-laid-out layer directory diffs to the same change set,
 * pseudo-links are flushed to real links, and removal renames first and
 * refuses a busy mount. */
#include <archive.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/base.h"
#include "archive/archive.h"
#include "store/store.h"
#include "../../drivers/aufs/aufs.h"
#include "snap.h"
#include "tartest.h"
#include "testlib.h"

extern const struct st_driver_ops st_aufs_driver;

static char *tmp;

static void setup(void)
{
	tmp = st_test_mkdtemp("aufs");
	ck_assert_ptr_nonnull(tmp);
}

static void teardown(void)
{
	st_test_sh("umount -R '%s' 2>/dev/null", tmp);
	st_test_rmtree(tmp);
	free(tmp);
}

/* st_driver_open without the probe, which fails where aufs is missing:
 * everything but the mount works on the directories alone. */
/* sweep: as the store sets it when a kill may have left leftovers */
static struct st_driver *open_aufs_sweeping(const char *home, bool sweep)
{
	struct st_error err = {0};
	ck_assert_int_eq(st_mkdir_p_at(AT_FDCWD, home, 0700, &err), 0);
	struct st_driver *d = calloc(1, sizeof(*d));
	d->ops = &st_aufs_driver;
	snprintf(d->home, sizeof(d->home), "%s", home);
	d->home_fd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(d->home_fd, 0);
	const char *subs[] = {".strata/layers", ".strata/children", ".strata/mounts", ".strata/locks"};
	for (size_t i = 0; i < ST_ARRAY_SIZE(subs); i++)
		ck_assert_int_eq(st_mkdir_p_at(d->home_fd, subs[i], 0700, &err), 0);
	d->sweep = sweep;
	ST_OK(d->ops->init(d, &err), &err);
	return d;
}

static struct st_driver *open_aufs(const char *home)
{
	return open_aufs_sweeping(home, false);
}

static struct st_driver *open_vfs(const char *home)
{
	struct st_driver *d;
	struct st_error err = {0};
	ST_OK(st_driver_open("vfs", home, NULL, &d, &err), &err);
	return d;
}

static void apply(struct st_driver *d, const char *id, const char *parent, const struct tt_buf *tar)
{
	struct st_error err = {0};
	ST_OK(st_drv_create(d, id, parent, false, NULL, &err), &err);
	struct tt_memreader m;
	ST_OK(st_drv_apply(d, id, NULL, tt_memreader(&m, tar->data, tar->len, 0), &err), &err);
}

static void diff_of(struct st_driver *d, const char *id, struct tt_buf *out)
{
	struct st_error err = {0};
	struct tt_memwriter w;
	memset(&w, 0, sizeof(w));
	ST_OK(st_drv_diff(d, id, NULL, tt_memwriter(&w), &err), &err);
	*out = w.buf;
}

/* "A /x\nC /y\n..." */
static char *changes_of(struct st_driver *d, const char *id)
{
	struct st_error err = {0};
	struct st_changes c;
	ST_OK(st_drv_changes(d, id, NULL, &c, &err), &err);
	struct tt_buf b = {0};
	for (size_t i = 0; i < c.n; i++) {
		char line[PATH_MAX + 8];
		int n = snprintf(line, sizeof(line), "%c %s\n", c.v[i].kind, c.v[i].path);
		tt_buf_add(&b, line, (size_t)n);
	}
	tt_buf_add(&b, "", 1);
	st_changes_free(&c);
	return (char *)b.data;
}

/* "a/b/c" in one of a few rotating buffers, so calls can nest */
static char *path_in(const char *a, const char *b, const char *c)
{
	static char buf[8][PATH_MAX];
	static int k;
	char t[PATH_MAX];
	snprintf(t, sizeof(t), "%s/%s%s%s", a, b, c ? "/" : "", c ? c : "");
	k = (k + 1) % 8;
	memcpy(buf[k], t, sizeof(t));
	return buf[k];
}

/* ------------------------------------------------------------ the tars */

static const struct tt_attr xa = {.xattr_name = {"user.note"}, .xattr_val = {"v1"}, .xattr_len = {2}};
static const struct tt_attr xb = {.xattr_name = {"user.note"}, .xattr_val = {"v2"}, .xattr_len = {2}};

static void tar_base(struct tt_buf *out)
{
	struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, 0);
	tt_dir(t, "etc", 0755);
	tt_file(t, "etc/a", 0644, "A");
	tt_file(t, "etc/b", 0644, "B");
	tt_dir(t, "d", 0755);
	tt_file(t, "d/x", 0644, "X");
	tt_file(t, "d/y", 0644, "Y");
	tt_dir(t, "d/sub", 0755);
	tt_file(t, "d/sub/s", 0644, "S");
	tt_file(t, "keep", 0644, "K");
	tt_symlink(t, "lnk", "keep");
	tt_hardlink(t, "hl", "keep");
	tt_dir(t, "gone", 0755);
	tt_file(t, "gone/g", 0644, "G");
	tt_file(t, "file2dir", 0644, "F");
	tt_dir(t, "dir2file", 0755);
	tt_file(t, "dir2file/in", 0644, "I");
	tt_file_data(t, "xf", 0644, "X", 1, &xa);
	tt_file(t, "mode", 0644, "M");
	tt_dir(t, "deep", 0755);
	tt_dir(t, "deep/er", 0755);
	tt_file(t, "deep/er/f", 0644, "D");
	tt_file(t, "same", 0644, "same");
	tt_dir(t, "d2", 0755);
	tt_file(t, "d2/old", 0644, "old");
	tt_tar_finish(t, out);
}

/* whiteouts, an opaque directory, type changes, metadata-only changes */
static void tar_mid(struct tt_buf *out)
{
	struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, 0);
	tt_dir(t, "etc", 0755);
	tt_file(t, "etc/.wh.a", 0644, "");
	tt_file(t, "etc/c", 0644, "C");
	tt_dir(t, "d", 0700);
	tt_file(t, "d/.wh..wh..opq", 0644, "");
	tt_file(t, "d/z", 0644, "Z");
	tt_dir(t, "d/sub", 0755);
	tt_file(t, "d/sub/t", 0644, "T");
	tt_file(t, "keep", 0644, "K2");
	tt_file(t, ".wh.gone", 0644, "");
	tt_file(t, ".wh.file2dir", 0644, "");
	tt_dir(t, "file2dir", 0755);
	tt_file(t, "file2dir/f", 0644, "f");
	tt_file(t, ".wh.dir2file", 0644, "");
	tt_file(t, "dir2file", 0644, "now a file");
	tt_file_data(t, "xf", 0644, "X", 1, &xb);
	tt_file(t, "mode", 0600, "M");
	tt_dir(t, "deep", 0755);
	tt_dir(t, "deep/er", 0755);
	tt_file(t, "deep/er/new", 0644, "N");
	tt_file(t, "same", 0644, "same");
	/* a directory deleted and made again in the same layer */
	tt_file(t, ".wh.d2", 0644, "");
	tt_dir(t, "d2", 0755);
	tt_file(t, "d2/new", 0644, "new");
	tt_tar_finish(t, out);
}

/* on top of mid: undo some of it, reach below an opaque directory */
static void tar_top(struct tt_buf *out)
{
	struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, 0);
	tt_dir(t, "etc", 0755);
	tt_file(t, "etc/a", 0644, "A again");
	tt_file(t, "etc/.wh.c", 0644, "");
	tt_dir(t, "d", 0700);
	tt_file(t, "d/x", 0644, "X back");
	tt_file(t, "d/sub/.wh.t", 0644, "");
	tt_dir(t, "gone", 0755);
	tt_file(t, "gone/h", 0644, "H");
	tt_file(t, ".wh.deep", 0644, "");
	tt_tar_finish(t, out);
}

/* ------------------------------------------------------- mount strings */

static char *hex_id(int i)
{
	char *s = NULL;
	ck_assert_int_ge(asprintf(&s, "%064x", i * 7919 + 1), 0);
	return s;
}

START_TEST(test_mount_plan_fits_one_page_with_dirperm1_and_xino)
{
	struct st_error err = {0};
	const char *ro[] = {"/s/aufs/diff/p1", "/s/aufs/diff/p2"};
	struct aufs_mount_plan p;
	ST_OK(aufs_mount_plan("/s/aufs/diff/me", ro, 2, 4096, true, &p, &err), &err);
	ck_assert_str_eq(p.data, "br:/s/aufs/diff/me=rw:/s/aufs/diff/p1=ro+wh:/s/aufs/diff/p2=ro+wh"
				 ",dio,xino=/dev/shm/aufs.xino,dirperm1");
	ck_assert_uint_eq(p.nappends, 0);
	aufs_mount_plan_free(&p);
	ST_OK(aufs_mount_plan("/s/aufs/diff/me", NULL, 0, 4096, false, &p, &err), &err);
	ck_assert_str_eq(p.data, "br:/s/aufs/diff/me=rw,dio,xino=/dev/shm/aufs.xino");
	aufs_mount_plan_free(&p);
}
END_TEST

/* Every branch exactly once, in order; each string within a page; the
 * first mount packed as full as it goes. */
static void check_plan(const char *rw, char **ro, size_t n, size_t page)
{
	struct st_error err = {0};
	struct aufs_mount_plan p;
	ST_OK(aufs_mount_plan(rw, (const char *const *)ro, n, page, true, &p, &err), &err);
	ck_assert_uint_le(strlen(p.data), page - 1);
	char head[PATH_MAX];
	snprintf(head, sizeof(head), "br:%s=rw", rw);
	ck_assert_msg(st_str_has_prefix(p.data, head), "data starts %.40s", p.data);
	const char *opts = ",dio,xino=/dev/shm/aufs.xino,dirperm1";
	ck_assert(st_str_has_suffix(p.data, opts));
	/* the read-only branches of the first mount */
	size_t k = 0;
	const char *cur = p.data + strlen(head);
	const char *end = p.data + strlen(p.data) - strlen(opts);
	while (cur < end) {
		ck_assert_int_eq(*cur, ':');
		char want[PATH_MAX];
		snprintf(want, sizeof(want), ":%s=ro+wh", ro[k]);
		ck_assert_msg(strncmp(cur, want, strlen(want)) == 0, "branch %zu out of order", k);
		cur += strlen(want);
		k++;
	}
	ck_assert_ptr_eq(cur, end);
	ck_assert_uint_eq(k + p.nappends, n);
	for (size_t i = 0; i < p.nappends; i++) {
		char want[PATH_MAX];
		snprintf(want, sizeof(want), "append:%s=ro+wh", ro[k + i]);
		ck_assert_str_eq(p.appends[i], want);
		ck_assert_uint_le(strlen(p.appends[i]), page - 1);
	}
	if (p.nappends) /* the next branch would not have fitted */
		ck_assert_uint_gt(strlen(p.data) + strlen(ro[k]) + strlen(":=ro+wh"), page - 1);
	aufs_mount_plan_free(&p);
}

START_TEST(test_mount_plan_200_layers_split_into_remount_appends)
{
	char **ro = calloc(200, sizeof(*ro));
	for (int i = 0; i < 200; i++) {
		char *id = hex_id(i);
		ck_assert_int_ge(asprintf(&ro[i], "/var/lib/strata/aufs/diff/%s", id), 0);
		free(id);
	}
	const char *rw = "/var/lib/strata/aufs/diff/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	struct st_error err = {0};
	struct aufs_mount_plan p;
	ST_OK(aufs_mount_plan(rw, (const char *const *)ro, 200, 4096, true, &p, &err), &err);
	/* ~98 bytes a branch: about 40 in the first page, the rest appended */
	ck_assert_uint_gt(p.nappends, 150);
	ck_assert_uint_lt(p.nappends, 200);
	aufs_mount_plan_free(&p);
	check_plan(rw, ro, 200, 4096);
	check_plan(rw, ro, 200, 8192);  /* bigger pages, fewer appends */
	check_plan(rw, ro, 200, 65536); /* everything in one mount */
	for (int i = 0; i < 200; i++)
		free(ro[i]);
	free(ro);
}
END_TEST

START_TEST(test_mount_plan_rejects_branches_it_cannot_express)
{
	struct st_error err = {0};
	struct aufs_mount_plan p;
	const char *colon[] = {"/a:b"};
	ck_assert_int_eq(aufs_mount_plan("/rw", colon, 1, 4096, true, &p, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "/a:b"));
	ck_assert_int_eq(aufs_mount_plan("/r,w", NULL, 0, 4096, true, &p, &err), -EINVAL);
	ck_assert_int_eq(aufs_mount_plan("relative", NULL, 0, 4096, true, &p, &err), -EINVAL);
	char *huge = malloc(5000);
	memset(huge, 'x', 4999);
	huge[0] = '/';
	huge[4999] = '\0';
	ck_assert_int_eq(aufs_mount_plan(huge, NULL, 0, 4096, true, &p, &err), -ENAMETOOLONG);
	const char *ro[] = {"/short", huge};
	ck_assert_int_eq(aufs_mount_plan("/rw", ro, 2, 4096, true, &p, &err), -ENAMETOOLONG);
	ck_assert_ptr_null(p.data);
	free(huge);
}
END_TEST

/* ---------------------------------------------------------- chain files */

START_TEST(test_chain_files_in_docker_format)
{
	struct st_error err = {0};
	char *pchain[] = {"g1", "g2"};
	char *s = aufs_chain_format("p", pchain, 2);
	ck_assert_str_eq(s, "p\ng1\ng2\n");
	char **ids;
	size_t n;
	ST_OK(aufs_chain_parse(s, &ids, &n, &err), &err);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(ids[0], "p");
	ck_assert_str_eq(ids[2], "g2");
	st_strv_free(ids, n);
	free(s);
	s = aufs_chain_format(NULL, NULL, 0);
	ck_assert_str_eq(s, "");
	ST_OK(aufs_chain_parse(s, &ids, &n, &err), &err);
	ck_assert_uint_eq(n, 0);
	free(s);
	/* Docker's: 64-hex ids and "-init" layers, blank lines tolerated */
	ST_OK(aufs_chain_parse("0123abcd-init\n\nfedc\n", &ids, &n, &err), &err);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(ids[0], "0123abcd-init");
	st_strv_free(ids, n);
	ck_assert_int_eq(aufs_chain_parse("ok\n../escape\n", &ids, &n, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "line 2"));
	ck_assert_ptr_null(ids);
}
END_TEST

/* ---------------------------------------------------------------- probe */

START_TEST(test_probe_texts)
{
	ck_assert(aufs_filesystems_has_aufs("nodev\tsysfs\nnodev\taufs\n\text4\n"));
	ck_assert(!aufs_filesystems_has_aufs("nodev\tsysfs\nnodev\toverlay\n\tbtrfs\n"));
	ck_assert(!aufs_filesystems_has_aufs("nodev\taufs2\n"));
	ck_assert(aufs_uid_map_is_initial("         0          0 4294967295\n"));
	ck_assert(!aufs_uid_map_is_initial("         0     100000      65536\n"));
	ck_assert(!aufs_uid_map_is_initial("0 0 4294967295\n1 1 1\n"));
}
END_TEST

START_TEST(test_probe_says_why_aufs_cannot_run_here)
{
	char *fs = st_test_read("/proc", "filesystems");
	bool have = fs && aufs_filesystems_has_aufs(fs);
	free(fs);
	if (have)
		ST_SKIP("this kernel has aufs: nothing to refuse");
	char home[PATH_MAX], reason[512];
	snprintf(home, sizeof(home), "%s/store/aufs", tmp);
	st_test_sh("mkdir -p '%s/store'", tmp);
	ck_assert_int_lt(st_driver_probe("aufs", home, reason, sizeof(reason)), 0);
	ck_assert_msg(strstr(reason, "/proc/filesystems") && strstr(reason, "modprobe aufs"), "reason: %s", reason);
	ck_assert(!st_test_exists(tmp, "store/aufs")); /* the probe leaves nothing */
	struct st_driver *d = NULL;
	struct st_error err = {0};
	ck_assert_int_lt(st_driver_open("aufs", home, NULL, &d, &err), 0);
	ck_assert_msg(strstr(err.msg, "not supported") && strstr(err.msg, "modprobe"), "%s", err.msg);
}
END_TEST

/* ------------------------------------------------- layers on directories */

/* The same three tars through aufs (native) and vfs (full copies, the
 * generic compare): the change lists and sizes must agree layer by layer. */
START_TEST(test_changes_and_sizes_match_the_generic_compare)
{
	struct st_driver *a = open_aufs(path_in(tmp, "aufs", NULL));
	struct st_driver *v = open_vfs(path_in(tmp, "vfs", NULL));
	struct tt_buf t1, t2, t3;
	tar_base(&t1);
	tar_mid(&t2);
	tar_top(&t3);
	const char *ids[] = {"base", "mid", "top"};
	const struct tt_buf *tars[] = {&t1, &t2, &t3};
	for (int i = 0; i < 3; i++) {
		apply(a, ids[i], i ? ids[i - 1] : NULL, tars[i]);
		apply(v, ids[i], i ? ids[i - 1] : NULL, tars[i]);
	}
	for (int i = 0; i < 3; i++) {
		char *ca = changes_of(a, ids[i]), *cv = changes_of(v, ids[i]);
		ck_assert_msg(strcmp(ca, cv) == 0, "layer %s:\naufs:\n%s\nvfs:\n%s", ids[i], ca, cv);
		free(ca);
		free(cv);
		struct st_error err = {0};
		int64_t sa = st_drv_diff_size(a, ids[i], NULL, &err), sv = st_drv_diff_size(v, ids[i], NULL, &err);
		ck_assert_int_ge(sa, 0);
		ck_assert_int_eq(sa, sv);
	}
	/* and what they are, for the middle layer */
	char *mid = changes_of(a, "mid");
	ck_assert_str_eq(mid, "C /d\nC /d/sub\nD /d/sub/s\nA /d/sub/t\nD /d/x\nD /d/y\nA /d/z\nC /d2\nA /d2/new\nD /d2/old\n"
			      "C /deep\nC /deep/er\n"
			      "A /deep/er/new\nC /dir2file\nC /etc\nD /etc/a\nA /etc/c\nC /file2dir\nA /file2dir/f\n"
			      "D /gone\nC /keep\nC /mode\nC /xf\n");
	free(mid);
	st_driver_close(a);
	st_driver_close(v);
	tt_buf_free(&t1);
	tt_buf_free(&t2);
	tt_buf_free(&t3);
}
END_TEST

START_TEST(test_apply_writes_aufs_whiteouts_in_the_branch)
{
	struct st_driver *a = open_aufs(path_in(tmp, "aufs", NULL));
	struct tt_buf t1, t2;
	tar_base(&t1);
	tar_mid(&t2);
	apply(a, "base", NULL, &t1);
	apply(a, "mid", "base", &t2);
	const char *diff = path_in(tmp, "aufs/diff", "mid");
	struct stat st;
	ck_assert_int_eq(lstat(path_in(diff, "etc/.wh.a", NULL), &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert(st_test_exists(diff, ".wh.gone"));
	ck_assert(st_test_exists(diff, "d/.wh..wh..opq"));
	/* a whiteout with a new entry of the same name: the entry stays, a
	 * directory made opaque, and the whiteout goes (aufs would hide both) */
	ck_assert(!st_test_exists(diff, ".wh.file2dir"));
	ck_assert(st_test_exists(diff, "file2dir/.wh..wh..opq"));
	ck_assert(!st_test_exists(diff, ".wh.d2"));
	ck_assert(st_test_exists(diff, "d2/.wh..wh..opq"));
	ck_assert(!st_test_exists(diff, ".wh.dir2file"));
	char *s = st_test_read(diff, "dir2file");
	ck_assert_str_eq(s, "now a file");
	free(s);
	/* nothing of the lower layers in the branch */
	ck_assert(!st_test_exists(diff, "etc/b"));
	ck_assert(!st_test_exists(diff, "lnk"));
	/* the layers file, as Docker wrote it */
	s = st_test_read(path_in(tmp, "aufs", NULL), "layers/mid");
	ck_assert_str_eq(s, "base\n");
	free(s);
	st_driver_close(a);
	tt_buf_free(&t1);
	tt_buf_free(&t2);
}
END_TEST

/* The branch's diff, unpacked on the vfs copy of its parent, gives the
 * same tree as the layer itself. */
START_TEST(test_diff_unpacks_to_the_same_tree)
{
	struct st_driver *a = open_aufs(path_in(tmp, "aufs", NULL));
	struct st_driver *v = open_vfs(path_in(tmp, "vfs", NULL));
	struct tt_buf t[3];
	tar_base(&t[0]);
	tar_mid(&t[1]);
	tar_top(&t[2]);
	const char *ids[] = {"base", "mid", "top"};
	const char *re[] = {"base2", "mid2", "top2"};
	for (int i = 0; i < 3; i++) {
		apply(a, ids[i], i ? ids[i - 1] : NULL, &t[i]);
		apply(v, ids[i], i ? ids[i - 1] : NULL, &t[i]);
		struct tt_buf d;
		diff_of(a, ids[i], &d);
		char *list = tt_tar_list(d.data, d.len);
		ck_assert_ptr_null(strstr(list, ".wh..wh.plnk"));
		free(list);
		/* applied on the vfs layer of the same parent */
		apply(v, re[i], i ? ids[i - 1] : NULL, &d);
		char *want = snap_tree(path_in(tmp, "vfs/dir", ids[i]), SNAP_MTIME);
		char *got = snap_tree(path_in(tmp, "vfs/dir", re[i]), SNAP_MTIME);
		ck_assert_snap_eq(want, got, ids[i]);
		free(want);
		free(got);
		tt_buf_free(&d);
	}
	st_driver_close(a);
	st_driver_close(v);
	for (int i = 0; i < 3; i++)
		tt_buf_free(&t[i]);
}
END_TEST

/* .wh..wh.aufs, .wh..wh.orph/ and .wh..wh.plnk/ (with a pseudo-link
 * hard-linked into the tree, as after a flush) change neither the diff,
 * nor the changes, nor the size. */
START_TEST(test_aufs_internal_files_are_skipped)
{
	struct st_driver *a = open_aufs(path_in(tmp, "aufs", NULL));
	struct tt_buf t1, t2;
	tar_base(&t1);
	tar_mid(&t2);
	apply(a, "base", NULL, &t1);
	apply(a, "mid", "base", &t2);
	struct tt_buf before;
	diff_of(a, "mid", &before);
	char *cb = changes_of(a, "mid");
	struct st_error err = {0};
	int64_t sb = st_drv_diff_size(a, "mid", NULL, &err);

	const char *diff = path_in(tmp, "aufs/diff", "mid");
	ck_assert_int_eq(st_test_sh("cd '%s' && touch .wh..wh.aufs && mkdir -p .wh..wh.orph .wh..wh.plnk"
				    " && echo orphan > .wh..wh.orph/x && echo copied > .wh..wh.plnk/1234.5678"
				    " && ln etc/c .wh..wh.plnk/99.100 && mkdir .wh..wh.plnk/sub && touch .wh..wh.plnk/sub/f",
				    diff),
			 0);
	struct tt_buf after;
	diff_of(a, "mid", &after);
	ck_assert_uint_eq(before.len, after.len);
	ck_assert_msg(memcmp(before.data, after.data, before.len) == 0, "the diff changed");
	char *ca = changes_of(a, "mid");
	ck_assert_str_eq(ca, cb);
	ck_assert_int_eq(st_drv_diff_size(a, "mid", NULL, &err), sb);
	/* and a tar carrying them applies without them */
	struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, 0);
	tt_file(t, ".wh..wh.aufs", 0644, "");
	tt_file(t, "ok", 0644, "ok");
	struct tt_buf t3;
	tt_tar_finish(t, &t3);
	apply(a, "top", "mid", &t3);
	ck_assert(!st_test_exists(path_in(tmp, "aufs/diff", "top"), ".wh..wh.aufs"));
	ck_assert(st_test_exists(path_in(tmp, "aufs/diff", "top"), "ok"));
	free(ca);
	free(cb);
	tt_buf_free(&before);
	tt_buf_free(&after);
	tt_buf_free(&t1);
	tt_buf_free(&t2);
	tt_buf_free(&t3);
	st_driver_close(a);
}
END_TEST

/* A layer directory as Docker's aufs driver leaves it (its files, aufs'
 * bookkeeping, layers/ID naming the parent) put under a layer of ours: it
 * diffs to the same tar, byte for byte, and the same changes. */
START_TEST(test_docker_layer_directory_diffs_to_the_same_change_set)
{
	struct st_driver *a = open_aufs(path_in(tmp, "aufs", NULL));
	struct tt_buf t1, t2;
	tar_base(&t1);
	tar_mid(&t2);
	apply(a, "base", NULL, &t1);
	apply(a, "mid", "base", &t2);
	struct st_error err = {0};
	const char *dk = "5e0c2f3b1d9a8e7c6b5a49382716f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4";
	ST_OK(st_drv_create(a, dk, "base", false, NULL, &err), &err);
	const char *home = path_in(tmp, "aufs", NULL);
	ck_assert_int_eq(st_test_sh("cd '%s' && rmdir diff/%s && cp -a diff/mid diff/%s && cd diff/%s"
				    " && : > .wh..wh.aufs && mkdir .wh..wh.orph .wh..wh.plnk && chmod 700 .wh..wh.plnk"
				    " && ln keep .wh..wh.plnk/4242.4343 && printf 'base\\n' > ../../layers/%s",
				    home, dk, dk, dk, dk),
			 0);
	struct tt_buf want, got;
	diff_of(a, "mid", &want);
	diff_of(a, dk, &got);
	ck_assert_uint_eq(want.len, got.len);
	ck_assert_msg(memcmp(want.data, got.data, want.len) == 0, "tars differ");
	char *cw = changes_of(a, "mid"), *cg = changes_of(a, dk);
	ck_assert_str_eq(cw, cg);
	free(cw);
	free(cg);
	tt_buf_free(&want);
	tt_buf_free(&got);
	tt_buf_free(&t1);
	tt_buf_free(&t2);
	st_driver_close(a);
}
END_TEST

/* A whole store as Docker's aufs driver leaves it (no records of ours):
 * opening it takes its layers in with their parents, and they diff. */
START_TEST(test_store_written_by_docker_is_read_as_is)
{
	const char *home = path_in(tmp, "docker-aufs", NULL);
	const char *img1 = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809";
	const char *img2 = "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0";
	ck_assert_int_eq(st_test_sh("umask 022 && mkdir -p '%s' && cd '%s' && A=%s B=%s"
				    " && mkdir -p diff/$A/etc diff/$A/bin diff/$B/etc diff/$B/bin diff/ctr-init/etc diff/ctr/tmp"
				    "    mnt/$A mnt/$B mnt/ctr-init mnt/ctr layers"
				    " && echo root > diff/$A/etc/passwd && echo sh > diff/$A/bin/sh"
				    " && : > diff/$A/.wh..wh.aufs && mkdir diff/$A/.wh..wh.orph diff/$A/.wh..wh.plnk"
				    " && : > diff/$B/etc/.wh.passwd && echo wheel > diff/$B/etc/group"
				    " && : > diff/$B/bin/.wh..wh..opq && echo ls > diff/$B/bin/ls"
				    " && : > diff/ctr-init/etc/hosts && : > diff/ctr-init/.dockerenv && echo t > diff/ctr/tmp/t"
				    " && : > layers/$A && printf '%%s\\n' $A > layers/$B"
				    " && printf '%%s\\n' $B $A > layers/ctr-init && printf '%%s\\n' ctr-init $B $A > layers/ctr",
				    home, home, img1, img2),
			 0);
	struct st_driver *a = open_aufs(home);
	char **ids;
	size_t n;
	struct st_error err = {0};
	ST_OK(st_drv_list(a, &ids, &n, &err), &err);
	ck_assert_uint_eq(n, 4);
	st_strv_free(ids, n);
	char parent[130];
	ST_OK(st_drv_parent(a, "ctr", parent, sizeof(parent), &err), &err);
	ck_assert_str_eq(parent, "ctr-init");
	ST_OK(st_drv_parent(a, img2, parent, sizeof(parent), &err), &err);
	ck_assert_str_eq(parent, img1);
	char *c = changes_of(a, img2);
	ck_assert_str_eq(c, "C /bin\nA /bin/ls\nD /bin/sh\nC /etc\nA /etc/group\nD /etc/passwd\n");
	free(c);
	c = changes_of(a, "ctr");
	ck_assert_str_eq(c, "A /tmp\nA /tmp/t\n");
	free(c);
	c = changes_of(a, img1);
	ck_assert_str_eq(c, "A /bin\nA /bin/sh\nA /etc\nA /etc/passwd\n");
	free(c);
	struct tt_buf t;
	diff_of(a, img2, &t);
	char *list = tt_tar_list(t.data, t.len);
	ck_assert_msg(strstr(list, "f bin/.wh..wh..opq\n") && strstr(list, "f etc/.wh.passwd\n") && !strstr(list, "orph"),
		      "%s", list);
	free(list);
	tt_buf_free(&t);
	ck_assert_int_eq(st_drv_remove(a, img1, &err), -EBUSY); /* it has children */
	st_driver_close(a);
	/* opened again: the same four, nothing twice */
	a = open_aufs(home);
	ST_OK(st_drv_list(a, &ids, &n, &err), &err);
	ck_assert_uint_eq(n, 4);
	st_strv_free(ids, n);
	st_driver_close(a);
}
END_TEST

/* --------------------------------------------------------- pseudo-links */

START_TEST(test_plink_flush_links_every_name_into_the_rw_branch)
{
	const char *u = path_in(tmp, "union", NULL), *rw = path_in(tmp, "rw", NULL);
	ck_assert_int_eq(st_test_sh("mkdir -p '%s/a' '%s/b/c' '%s/.wh..wh.plnk' && chmod 0711 '%s/b'"
				    " && echo data > '%s/a/one' && ln '%s/a/one' '%s/b/c/two' && echo other > '%s/three'",
				    u, u, rw, u, u, u, u, u),
			 0);
	struct stat st;
	ck_assert_int_eq(stat(path_in(u, "a/one", NULL), &st), 0);
	char name[64];
	snprintf(name, sizeof(name), ".wh..wh.plnk/%lu.777", (unsigned long)st.st_ino);
	st_test_write(rw, name, "copied up");
	st_test_write(rw, ".wh..wh.plnk/not-a-plink", "x");
	int ufd = open(u, O_RDONLY | O_DIRECTORY), rfd = open(rw, O_RDONLY | O_DIRECTORY);
	struct st_error err = {0};
	int n = aufs_plink_flush(ufd, rfd, &err);
	ck_assert_msg(n == 2, "flushed %d: %s", n, err.msg);
	struct stat p, l1, l2, dir;
	ck_assert_int_eq(stat(path_in(rw, name, NULL), &p), 0);
	ck_assert_int_eq(stat(path_in(rw, "a/one", NULL), &l1), 0);
	ck_assert_int_eq(stat(path_in(rw, "b/c/two", NULL), &l2), 0);
	ck_assert_uint_eq(l1.st_ino, p.st_ino);
	ck_assert_uint_eq(l2.st_ino, p.st_ino);
	ck_assert_int_eq(stat(path_in(rw, "b", NULL), &dir), 0);
	ck_assert_uint_eq(dir.st_mode & 07777, 0711); /* made like the union's */
	ck_assert(!st_test_exists(rw, "three"));
	ck_assert_int_eq(aufs_plink_flush(ufd, rfd, &err), 0); /* done is done */
	close(ufd);
	close(rfd);
}
END_TEST

/* -------------------------------------------------------------- removal */

START_TEST(test_remove_renames_first_and_leaves_nothing)
{
	const char *home = path_in(tmp, "aufs", NULL);
	struct st_driver *a = open_aufs(home);
	struct tt_buf t1;
	tar_base(&t1);
	apply(a, "base", NULL, &t1);
	struct st_error err = {0};
	ST_OK(st_drv_remove(a, "base", &err), &err);
	ck_assert(!st_drv_exists(a, "base"));
	ck_assert_int_eq(st_test_sh("cd '%s' && test -z \"$(find diff mnt layers -mindepth 1)\"", home), 0);
	/* a removal killed after its renames: the next init sweeps it */
	ck_assert_int_eq(st_test_sh("mkdir -p '%s/diff/.trash-x-1/d' '%s/mnt/.trash-x-1' && touch '%s/layers/.trash-x-1'",
				    home, home, home),
			 0);
	st_driver_close(a);
	a = open_aufs(home); /* no kill on record: the leftovers wait */
	ck_assert(st_test_exists(home, "layers/.trash-x-1"));
	st_driver_close(a);
	a = open_aufs_sweeping(home, true);
	ck_assert_int_eq(st_test_sh("cd '%s' && test -z \"$(find diff mnt layers -mindepth 1)\"", home), 0);
	st_driver_close(a);
	tt_buf_free(&t1);
}
END_TEST

START_TEST(test_remove_of_a_busy_mount_fails_clearly_and_keeps_the_layer)
{
	const char *home = path_in(tmp, "aufs", NULL);
	struct st_driver *a = open_aufs(home);
	struct tt_buf t1;
	tar_base(&t1);
	apply(a, "base", NULL, &t1);
	/* a leftover mount of the layer that a process still works in */
	const char *other = path_in(tmp, "other", NULL);
	ck_assert_int_eq(st_test_sh("mkdir -p '%s' && echo x > '%s/f'", other, other), 0);
	if (mount(other, path_in(home, "mnt", "base"), NULL, MS_BIND, NULL) < 0)
		ST_SKIP("cannot bind-mount here: %s", strerror(errno));
	int busy = open(path_in(home, "mnt", "base/f"), O_RDONLY);
	ck_assert_int_ge(busy, 0);
	struct st_error err = {0};
	ck_assert_int_eq(st_drv_remove(a, "base", &err), -EBUSY);
	ck_assert_msg(strstr(err.msg, "busy") && strstr(err.msg, "mnt/base"), "%s", err.msg);
	ck_assert(st_drv_exists(a, "base"));
	char *c = changes_of(a, "base");
	ck_assert_ptr_nonnull(strstr(c, "A /etc/a\n"));
	free(c);
	close(busy);
	ST_OK(st_drv_remove(a, "base", &err), &err);
	ck_assert(!st_is_mountpoint(path_in(home, "mnt", NULL)));
	ck_assert(!st_drv_exists(a, "base"));
	st_driver_close(a);
	tt_buf_free(&t1);
}
END_TEST

START_TEST(test_get_without_aufs_fails_clearly_and_counts_nothing)
{
	char *fs = st_test_read("/proc", "filesystems");
	bool have = fs && aufs_filesystems_has_aufs(fs);
	free(fs);
	if (have)
		ST_SKIP("this kernel has aufs: the conformance suite mounts it");
	struct st_driver *a = open_aufs(path_in(tmp, "aufs", NULL));
	struct st_error err = {0};
	ST_OK(st_drv_create(a, "l1", NULL, false, NULL, &err), &err);
	ST_OK(st_drv_create(a, "l2", "l1", true, NULL, &err), &err);
	char p[PATH_MAX];
	ck_assert_int_lt(st_drv_get(a, "l2", p, sizeof(p), &err), 0);
	ck_assert_msg(strstr(err.msg, "aufs") && strstr(err.msg, "mount") && strstr(err.msg, "2 branches"), "%s",
		      err.msg);
	ck_assert_int_eq(st_drv_mount_count(a, "l2"), 0);
	ST_OK(st_drv_remove(a, "l2", &err), &err);
	st_driver_close(a);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("aufs");
	TCase *pure = tcase_create("strings");
	tcase_add_test(pure, test_mount_plan_fits_one_page_with_dirperm1_and_xino);
	tcase_add_test(pure, test_mount_plan_200_layers_split_into_remount_appends);
	tcase_add_test(pure, test_mount_plan_rejects_branches_it_cannot_express);
	tcase_add_test(pure, test_chain_files_in_docker_format);
	tcase_add_test(pure, test_probe_texts);
	suite_add_tcase(s, pure);
	TCase *dirs = tcase_create("directories");
	tcase_add_checked_fixture(dirs, setup, teardown);
	tcase_add_test(dirs, test_probe_says_why_aufs_cannot_run_here);
	tcase_add_test(dirs, test_changes_and_sizes_match_the_generic_compare);
	tcase_add_test(dirs, test_apply_writes_aufs_whiteouts_in_the_branch);
	tcase_add_test(dirs, test_diff_unpacks_to_the_same_tree);
	tcase_add_test(dirs, test_aufs_internal_files_are_skipped);
	tcase_add_test(dirs, test_docker_layer_directory_diffs_to_the_same_change_set);
	tcase_add_test(dirs, test_store_written_by_docker_is_read_as_is);
	tcase_add_test(dirs, test_plink_flush_links_every_name_into_the_rw_branch);
	tcase_add_test(dirs, test_remove_renames_first_and_leaves_nothing);
	tcase_add_test(dirs, test_remove_of_a_busy_mount_fails_clearly_and_keeps_the_layer);
	tcase_add_test(dirs, test_get_without_aufs_fails_clearly_and_counts_nothing);
	suite_add_tcase(s, dirs);
	return s;
}

int main(void)
{
	return st_test_main(suite());
}
