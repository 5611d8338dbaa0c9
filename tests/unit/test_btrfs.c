/* The btrfs driver's change finder by generation (drivers/btrfs/changes.c)
 * against the generic tree compare, on a loop-mounted btrfs made here:
 * after seeded random work in a container layer (writes that keep size and
 * mtime, renames over files, hard links, type changes, xattrs, owners,
 * directories removed and made again, ...) both must list exactly the same
 * changes and write byte-identical diffs, and the fast path must really
 * have been taken. Where it cannot be right (nested subvolumes, a parent
 * changed after the snapshot) it must step aside, and the answer stays
 * the generic one. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "store/store.h"
#include "../../drivers/btrfs/btrfs.h"
#include "tartest.h"
#include "testlib.h"

static char *tmp;
static char home[PATH_MAX];
static bool have_btrfs;
static struct st_driver *d;

static void setup(void)
{
	tmp = st_test_mkdtemp("btrfs");
	ck_assert_ptr_nonnull(tmp);
	have_btrfs = getuid() == 0 && access("/dev/loop-control", F_OK) == 0 &&
		     st_test_sh("command -v mkfs.btrfs >/dev/null && grep -qw btrfs /proc/filesystems") == 0 &&
		     st_test_sh("cd '%s' && truncate -s 1G img && mkfs.btrfs -q img >/dev/null 2>&1 && mkdir mnt"
				" && mount -o loop img mnt", tmp) == 0;
	d = NULL;
	if (!have_btrfs)
		return;
	snprintf(home, sizeof(home), "%s/mnt/home", tmp);
	struct st_error err = {0};
	ST_OK(st_driver_open("btrfs", home, NULL, &d, &err), &err);
}

static void teardown(void)
{
	if (d)
		st_driver_close(d);
	st_test_sh("umount -R '%s/mnt' 2>/dev/null; losetup -j '%s/img' -O NAME -n | xargs -r losetup -d", tmp, tmp);
	st_test_rmtree(tmp);
	free(tmp);
}

#define NEED_BTRFS()                                                                   \
	do {                                                                           \
		if (!have_btrfs)                                                       \
			ST_SKIP("no loop-mounted btrfs here (needs root, mkfs.btrfs, loop devices)"); \
	} while (0)

static char *layer_path(const char *id)
{
	static char p[4][PATH_MAX];
	static int k;
	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/subvolumes/%s", home, id);
	return p[k];
}

/* A parent with some of everything. */
static void make_parent(const char *id)
{
	struct st_error err = {0};
	ST_OK(st_drv_create(d, id, NULL, false, NULL, &err), &err);
	const char *p = layer_path(id);
	ck_assert_int_eq(st_test_sh("cd '%s' && mkdir -p a/b/c e/f g empty && for i in 1 2 3 4 5 6 7 8; do"
				    " head -c $((i * 1000)) /dev/urandom > a/f$i; echo $i > a/b/g$i; echo $i > e/f/h$i;"
				    " done && echo deep > a/b/c/deep && ln a/f1 g/hard && ln -s ../a/f2 g/sym"
				    " && mkfifo g/fifo && setfattr -n user.k -v v a/f3 && chown 7:8 a/f4 && chmod 0700 e"
				    " && touch -d @1500000000 a/f5",
				    p),
			 0);
}

/* ------------------------------------------------------ random work */

struct paths {
	char **v;
	size_t n;
	bool dirs; /* collect directories, else everything else */
};

static int collect_cb(void *ctx, const struct st_walk_ent *e)
{
	struct paths *p = ctx;
	if (e->post || (S_ISDIR(e->st.st_mode) != p->dirs))
		return 0;
	if (!p->dirs && !S_ISREG(e->st.st_mode) && !S_ISLNK(e->st.st_mode))
		return 0; /* a write to a fifo would wait for a reader */
	st_strv_push(&p->v, &p->n, e->path);
	return 0;
}

static char *pick(int root, bool dirs, unsigned *seed)
{
	struct paths p = {.dirs = dirs};
	struct st_error err;
	st_walk(root, collect_cb, &p, &err);
	char *r = p.n ? strdup(p.v[rand_r(seed) % p.n]) : NULL;
	st_strv_free(p.v, p.n);
	return r;
}

/* One random change in the layer at path lp; returns what it did. */
static const char *random_op(const char *lp, unsigned *seed)
{
	int root = open(lp, O_RDONLY | O_DIRECTORY);
	char *f = pick(root, false, seed), *dir = pick(root, true, seed);
	close(root);
	const char *D = dir ? dir : ".";
	char cmd[4 * PATH_MAX];
	int op = rand_r(seed) % 18;
	unsigned n = rand_r(seed) % 100000;
	const char *what = "nothing";
	if (!f && op < 12)
		op = 12;
	switch (op) {
	case 0: snprintf(cmd, sizeof(cmd), "echo changed%u >> '%s'", n, f); what = "append"; break;
	case 1: /* same size, same mtime, other bytes: only a byte compare sees it */
		snprintf(cmd, sizeof(cmd), "test -f '%s' && test -s '%s' && t=$(stat -c %%Y '%s') &&"
			 " printf Z | dd of='%s' bs=1 seek=0 conv=notrunc status=none && touch -d @$t '%s' || true",
			 f, f, f, f, f);
		what = "overwrite keeping size and mtime";
		break;
	case 2: snprintf(cmd, sizeof(cmd), "test -f '%s' && truncate -s 3 '%s' || true", f, f); what = "truncate"; break;
	case 3: snprintf(cmd, sizeof(cmd), "chmod 0%o '%s' 2>/dev/null || true", 0600 + (n % 0100), f); what = "chmod"; break;
	case 4: snprintf(cmd, sizeof(cmd), "chown -h %u:%u '%s'", n % 5, n % 7, f); what = "chown"; break;
	case 5: snprintf(cmd, sizeof(cmd), "setfattr -h -n user.r%u -v x '%s' 2>/dev/null || true", n % 3, f); what = "xattr"; break;
	case 6: snprintf(cmd, sizeof(cmd), "rm -f '%s'", f); what = "unlink"; break;
	case 7: snprintf(cmd, sizeof(cmd), "mv -f '%s' '%s/mv%u'", f, D, n); what = "rename file"; break;
	case 8: snprintf(cmd, sizeof(cmd), "test -f '%s' && ln -f '%s' '%s/ln%u' || true", f, f, D, n); what = "hard link"; break;
	case 9: snprintf(cmd, sizeof(cmd), "rm -f '%s' && mkdir '%s' && echo in > '%s/x'", f, f, f); what = "file to dir"; break;
	case 10: snprintf(cmd, sizeof(cmd), "touch -h -d @%u '%s'", 1600000000 + n, f); what = "utimes"; break;
	case 11: /* rename over an existing file */
		snprintf(cmd, sizeof(cmd), "for g in $(ls '%s' 2>/dev/null | head -1); do test -f '%s/'$g && mv -f '%s/'$g '%s'; done; true",
			 D, D, D, f);
		what = "rename over a file";
		break;
	case 12: snprintf(cmd, sizeof(cmd), "mkdir -p '%s/new%u/sub' && echo n > '%s/new%u/sub/f'", D, n, D, n); what = "new tree"; break;
	case 13: snprintf(cmd, sizeof(cmd), "test '%s' != . && rm -rf '%s' || true", D, D); what = "rm -rf dir"; break;
	case 14: /* the same name, another directory inode */
		snprintf(cmd, sizeof(cmd), "test '%s' != . && rm -rf '%s' && mkdir '%s' && echo again > '%s/again' || true", D, D, D, D);
		what = "rmdir and mkdir";
		break;
	case 15: snprintf(cmd, sizeof(cmd), "test '%s' != . && mv '%s' '%s.moved%u' || true", D, D, D, n); what = "rename dir"; break;
	case 16: snprintf(cmd, sizeof(cmd), "echo t > '%s/tmp%u' && rm '%s/tmp%u'", D, n, D, n); what = "create and delete"; break;
	default: snprintf(cmd, sizeof(cmd), "ln -sfn target%u '%s/sl%u' && mkfifo '%s/ff%u'", n, D, n % 3, D, n); what = "symlink, fifo"; break;
	}
	char full[5 * PATH_MAX];
	snprintf(full, sizeof(full), "cd '%s' && { %s; } 2>/dev/null", lp, cmd);
	if (getenv("STRATA_BTRFS_DEBUG"))
		fprintf(stderr, "  %s\n", cmd);
	st_test_sh("%s", full);
	free(f);
	free(dir);
	return what;
}

static char *text_of(const struct st_changes *c)
{
	struct tt_buf b = {0};
	for (size_t i = 0; i < c->n; i++) {
		char line[PATH_MAX + 8];
		int k = snprintf(line, sizeof(line), "%c %s\n", c->v[i].kind, c->v[i].path);
		tt_buf_add(&b, line, (size_t)k);
	}
	tt_buf_add(&b, "", 1);
	return (char *)b.data;
}

/* Fast and generic agree on id against parent; the fast path was taken. */
static void ck_same(const char *id, const char *parent, const char *what)
{
	struct st_error err = {0};
	int lfd = open(layer_path(id), O_RDONLY | O_DIRECTORY), pfd = open(layer_path(parent), O_RDONLY | O_DIRECTORY);
	struct timespec settled;
	ck_assert_int_eq(st_drv_settled(d, id, &settled), 0);
	struct st_changes fast, slow;
	int r = btrfs_fast_changes(lfd, pfd, &settled, &fast, &err);
	ck_assert_msg(r == 0, "fast path not taken (%d): %s", r, err.msg);
	close(lfd);
	close(pfd);
	ST_OK(st_naive_changes(d, id, parent, &slow, &err), &err);
	char *a = text_of(&fast), *b = text_of(&slow);
	ck_assert_msg(strcmp(a, b) == 0, "after %s:\nby generation:\n%s\ngeneric:\n%s", what, a, b);
	free(a);
	free(b);
	st_changes_free(&fast);
	st_changes_free(&slow);
	/* the driver's diff (by generation) is the generic diff, byte for byte */
	struct tt_memwriter w1, w2;
	ST_OK(st_drv_diff(d, id, parent, tt_memwriter(&w1), &err), &err);
	ST_OK(st_naive_diff(d, id, parent, tt_memwriter(&w2), &err), &err);
	ck_assert_msg(w1.buf.len == w2.buf.len && memcmp(w1.buf.data, w2.buf.data, w1.buf.len) == 0,
		      "after %s: diffs differ (%zu vs %zu bytes)", what, w1.buf.len, w2.buf.len);
	ck_assert_int_eq(st_drv_diff_size(d, id, parent, &err), st_naive_diff_size(d, id, parent, &err));
	tt_buf_free(&w1.buf);
	tt_buf_free(&w2.buf);
}

START_TEST(test_changes_by_generation_match_the_generic_compare)
{
	NEED_BTRFS();
	make_parent("p");
	struct st_error err = {0};
	/* STRATA_BTRFS_SEEDS=N for a longer run */
	const char *ns = getenv("STRATA_BTRFS_SEEDS");
	unsigned nseeds = ns && atoi(ns) > 0 ? (unsigned)atoi(ns) : 24;
	for (unsigned seed = 1; seed <= nseeds; seed++) {
		char id[32];
		snprintf(id, sizeof(id), "c%u", seed);
		ST_OK(st_drv_create(d, id, "p", true, NULL, &err), &err);
		ck_same(id, "p", "nothing");
		unsigned s = seed;
		char done[2048];
		snprintf(done, sizeof(done), "seed %u: ", seed);
		for (int i = 0; i < 16; i++) {
			const char *w = random_op(layer_path(id), &s);
			snprintf(done + strlen(done), sizeof(done) - strlen(done), "%s%s", i ? ", " : "", w);
			if (getenv("STRATA_BTRFS_DEBUG"))
				fprintf(stderr, "seed %u op %d: %s\n", seed, i, w);
			if (i % 4 == 3)
				ck_same(id, "p", done);
		}
		ck_same(id, "p", done);
		ST_OK(st_drv_remove(d, id, &err), &err);
	}
}
END_TEST

/* Changes seen the moment they are made: btrfs batches inode updates until
 * its transaction commits, and a buffered write's size and times reach the
 * tree only with its data. No delay, no sync, in this test. */
START_TEST(test_changes_by_generation_see_fresh_changes_at_once)
{
	NEED_BTRFS();
	make_parent("p");
	struct st_error err = {0};
	static const char *const ops[] = {
		"chmod 0640 a/f2", "chown 3:4 a/f2", "echo more >> a/f2", "truncate -s 1 a/f2",
		"printf Z | dd of=a/f2 bs=1 conv=notrunc status=none && touch -d @1500000000 a/f2",
		"setfattr -n user.n -v 1 a/f2", "touch a/f2",
	};
	for (size_t i = 0; i < ST_ARRAY_SIZE(ops); i++) {
		char id[16];
		snprintf(id, sizeof(id), "m%zu", i);
		ST_OK(st_drv_create(d, id, "p", true, NULL, &err), &err);
		ck_assert_int_eq(st_test_sh("cd '%s' && %s", layer_path(id), ops[i]), 0);
		struct st_changes c;
		ST_OK(st_drv_changes(d, id, "p", &c, &err), &err);
		char *t = text_of(&c);
		ck_assert_msg(strcmp(t, "C /a\nC /a/f2\n") == 0, "after %s: %s", ops[i], t);
		free(t);
		st_changes_free(&c);
		ck_same(id, "p", ops[i]);
	}
}
END_TEST

/* A child of a committed layer: changes by generation one level down. */
START_TEST(test_changes_by_generation_on_a_committed_child)
{
	NEED_BTRFS();
	make_parent("p");
	struct st_error err = {0};
	ST_OK(st_drv_create(d, "mid", "p", true, NULL, &err), &err);
	unsigned s = 99;
	for (int i = 0; i < 10; i++)
		random_op(layer_path("mid"), &s);
	ST_OK(st_drv_commit(d, "mid", &err), &err);
	ck_same("mid", "p", "commit");
	ST_OK(st_drv_create(d, "top", "mid", true, NULL, &err), &err);
	for (int i = 0; i < 10; i++)
		random_op(layer_path("top"), &s);
	ck_same("top", "mid", "work on a committed child");
}
END_TEST

static int fast_result(const char *id, const char *parent)
{
	struct st_error err = {0};
	int lfd = open(layer_path(id), O_RDONLY | O_DIRECTORY), pfd = open(layer_path(parent), O_RDONLY | O_DIRECTORY);
	struct st_changes c;
	int r = btrfs_fast_changes(lfd, pfd, NULL, &c, &err);
	if (r == 0)
		st_changes_free(&c);
	close(lfd);
	close(pfd);
	return r;
}

START_TEST(test_generation_path_steps_aside_where_it_cannot_be_right)
{
	NEED_BTRFS();
	make_parent("p");
	struct st_error err = {0};
	/* nested subvolume in the layer: its tree is not searched */
	ST_OK(st_drv_create(d, "n", "p", true, NULL, &err), &err);
	ck_assert_int_eq(st_test_sh("btrfs subvolume create '%s/vol' >/dev/null && echo x > '%s/vol/f'", layer_path("n"),
				    layer_path("n")),
			 0);
	ck_assert_int_eq(fast_result("n", "p"), -EOPNOTSUPP);
	struct st_changes c;
	ST_OK(st_drv_changes(d, "n", "p", &c, &err), &err);
	char *t = text_of(&c);
	ck_assert_str_eq(t, "A /vol\nA /vol/f\n");
	free(t);
	st_changes_free(&c);
	/* not a snapshot of that parent */
	ST_OK(st_drv_create(d, "other", NULL, false, NULL, &err), &err);
	ck_assert_int_eq(fast_result("n", "other"), -EOPNOTSUPP);
	/* a parent changed after its child was made */
	ST_OK(st_drv_create(d, "k", "p", true, NULL, &err), &err);
	ck_assert_int_eq(fast_result("k", "p"), 0);
	ck_assert_int_eq(st_test_sh("btrfs property set -ts '%s' ro false && echo late > '%s/late'"
				    " && btrfs property set -ts '%s' ro true && sync",
				    layer_path("p"), layer_path("p"), layer_path("p")),
			 0);
	ck_assert_int_eq(fast_result("k", "p"), -EOPNOTSUPP);
	ST_OK(st_drv_changes(d, "k", "p", &c, &err), &err);
	t = text_of(&c);
	ck_assert_str_eq(t, "D /late\n"); /* the generic answer */
	free(t);
	st_changes_free(&c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("btrfs");
	TCase *tc = tcase_create("changes");
	tcase_set_timeout(tc, 600);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_changes_by_generation_match_the_generic_compare);
	tcase_add_test(tc, test_changes_by_generation_see_fresh_changes_at_once);
	tcase_add_test(tc, test_changes_by_generation_on_a_committed_child);
	tcase_add_test(tc, test_generation_path_steps_aside_where_it_cannot_be_right);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return st_test_main(suite());
}
