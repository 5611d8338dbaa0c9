/* overlay size limits (--storage-opt size=) through project quotas, on a
 * loop-mounted xfs (pquota) and ext4 (-O project,quota, prjquota), and the
 * clear refusal elsewhere. A kernel built without quota support (this
 * machine's own) skips the loop cases; the VM's Debian kernel runs them
 * (tests/vm/guest-overlay.sh). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snap.h"
#include "testlib.h"

static char *tmp;

static void setup(void)
{
	tmp = st_test_mkdtemp("ovlq");
	ck_assert_ptr_nonnull(tmp);
}

static void teardown(void)
{
	st_test_sh("grep -o ' %s/[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null", tmp);
	st_test_rmtree(tmp);
	free(tmp);
}

/* A loop-mounted filesystem with project quota at tmp/fs; NULL and the
 * reason in why when this kernel or machine cannot. */
static char *quota_fs(const char *type, char *why, size_t len)
{
	const char *mkfs = strcmp(type, "xfs") == 0 ? "mkfs.xfs -q -f" : "mkfs.ext4 -q -F -O project,quota -I 256";
	const char *size = strcmp(type, "xfs") == 0 ? "320M" : "160M";
	const char *opt = strcmp(type, "xfs") == 0 ? "pquota" : "prjquota";
	if (st_test_sh("cd %s && truncate -s %s fs.img && %s fs.img >/dev/null 2>&1 && mkdir fs", tmp, size, mkfs) != 0) {
		snprintf(why, len, "cannot make an %s image (mkfs missing?)", type);
		return NULL;
	}
	if (st_test_sh("cd %s && mount -o loop,%s fs.img fs 2>/dev/null", tmp, opt) != 0) {
		char cmd[256];
		snprintf(cmd, sizeof(cmd), "dmesg 2>/dev/null | grep -iE 'quota|loop' | tail -n 1 | cut -c16-");
		FILE *p = popen(cmd, "r");
		char line[200] = "";
		if (p) {
			if (!fgets(line, sizeof(line), p))
				line[0] = '\0';
			pclose(p);
		}
		line[strcspn(line, "\n")] = '\0';
		snprintf(why, len, "cannot mount %s with %s here (%s)", type, opt, line[0] ? line : "see dmesg");
		return NULL;
	}
	char *p = NULL;
	ck_assert_int_ge(asprintf(&p, "%s/fs/home", tmp), 0);
	return p;
}

static struct st_driver *open_at(const char *home, const char *init_size)
{
	struct st_kvlist kv = {0};
	if (init_size)
		st_kvlist_add(&kv, "size", "%s", init_size);
	struct st_driver *d = NULL;
	struct st_error err = {0};
	int r = st_driver_open("overlay", home, &kv, &d, &err);
	st_kvlist_free(&kv);
	ck_assert_msg(r == 0, "open overlay in %s: %s", home, err.msg);
	return d;
}

static void create_sized(struct st_driver *d, const char *id, const char *parent, const char *size)
{
	struct st_kvlist kv = {0};
	if (size)
		st_kvlist_add(&kv, "size", "%s", size);
	struct st_error err = {0};
	ST_OK(st_drv_create(d, id, parent, true, size ? &kv : NULL, &err), &err);
	st_kvlist_free(&kv);
}

static char *get(struct st_driver *d, const char *id)
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

/* dd of mb MiB into dir/name: its exit status. As a container writes:
 * without CAP_SYS_RESOURCE, which lets a writer past ext4's (VFS quota)
 * hard limits. Through an overlay mount it never counts (overlayfs drops it
 * from the mounter's credentials); a layer without a parent is a plain
 * directory. */
static int fill(const char *dir, const char *name, int mb)
{
	return st_test_sh("setpriv --inh-caps=-sys_resource --bounding-set=-sys_resource "
			  "dd if=/dev/zero of=%s/%s bs=1M count=%d conv=fsync 2>/dev/null", dir, name, mb);
}

static long long size_of(struct st_driver *d, const char *id)
{
	struct st_kvlist kv = {0};
	d->ops->metadata(d, id, &kv);
	const char *v = st_kvlist_get(&kv, "Size");
	long long n = v ? atoll(v) : 0;
	st_kvlist_free(&kv);
	return n;
}

static void limits_rw_layers(const char *type)
{
	char why[256];
	char *home = quota_fs(type, why, sizeof(why));
	if (!home) {
		printf("SKIP test_overlay_quota_limits_rw_layers_on_%s: %s\n", type, why);
		return;
	}
	struct st_driver *d = open_at(home, NULL);
	struct st_kvlist kv = {0};
	st_drv_status(d, &kv);
	ck_assert_str_eq(st_kvlist_get(&kv, "Project Quota"), "true");
	st_kvlist_free(&kv);
	struct st_error err = {0};
	ST_OK(st_drv_create(d, "base", NULL, false, NULL, &err), &err);
	create_sized(d, "a", "base", "20M");
	create_sized(d, "b", "base", "20M");
	create_sized(d, "plain", NULL, "8M"); /* no parent: a plain directory, limited too */
	create_sized(d, "free", "base", NULL);
	ck_assert_int_eq(size_of(d, "a"), 20LL << 20);
	ck_assert_int_eq(size_of(d, "free"), 0);
	char *a = get(d, "a"), *b = get(d, "b"), *plain = get(d, "plain"), *fr = get(d, "free");
	/* over the limit: refused (EDQUOT) */
	ck_assert_int_ne(fill(a, "big", 30), 0);
	ck_assert_int_eq(st_test_sh("rm %s/big", a), 0);
	/* under it: fine, and each layer has its own project */
	ck_assert_int_eq(fill(a, "f", 15), 0);
	ck_assert_int_eq(fill(b, "f", 15), 0);
	ck_assert_int_ne(fill(plain, "f", 12), 0);
	ck_assert_int_eq(fill(fr, "f", 40), 0);
	put(d, "a");
	put(d, "b");
	put(d, "plain");
	put(d, "free");
	free(a);
	free(b);
	free(plain);
	free(fr);
	/* committed, the layer is no longer limited */
	ST_OK(st_drv_commit(d, "a", &err), &err);
	ck_assert_int_eq(size_of(d, "a"), 0);
	st_driver_close(d);
	/* a default for every read-write layer */
	d = open_at(home, "10M");
	create_sized(d, "dflt", "base", NULL);
	ck_assert_int_eq(size_of(d, "dflt"), 10LL << 20);
	char *m = get(d, "dflt");
	ck_assert_int_ne(fill(m, "big", 16), 0);
	put(d, "dflt");
	free(m);
	st_driver_close(d);
	free(home);
}

START_TEST(test_overlay_quota_limits_rw_layers_on_xfs)
{
	limits_rw_layers("xfs");
}
END_TEST

START_TEST(test_overlay_quota_limits_rw_layers_on_ext4)
{
	limits_rw_layers("ext4");
}
END_TEST

/* Without project quota: a clear error at create and at init. */
START_TEST(test_overlay_quota_refused_clearly_without_project_quota)
{
	char home[PATH_MAX];
	snprintf(home, sizeof(home), "%s/home", tmp);
	struct st_driver *d = open_at(home, NULL);
	struct st_kvlist kv = {0};
	st_drv_status(d, &kv);
	bool has_quota = strcmp(st_kvlist_get(&kv, "Project Quota"), "true") == 0;
	st_kvlist_free(&kv);
	if (has_quota) {
		st_driver_close(d);
		ST_SKIP("%s has project quota enforced", home);
	}
	struct st_error err = {0};
	ST_OK(st_drv_create(d, "base", NULL, false, NULL, &err), &err);
	st_kvlist_add(&kv, "size", "10M");
	ck_assert_int_lt(st_drv_create(d, "rw", "base", true, &kv, &err), 0);
	ck_assert_msg(strstr(err.msg, "project quota") && strstr(err.msg, "rw"), "%s", err.msg);
	ck_assert(!st_drv_exists(d, "rw"));
	/* read-only layers take no size at all */
	ck_assert_int_lt(st_drv_create(d, "ro", "base", false, &kv, &err), 0);
	st_kvlist_free(&kv);
	st_driver_close(d);
	st_kvlist_add(&kv, "size", "10M");
	ck_assert_int_lt(st_driver_open("overlay", home, &kv, &d, &err), 0);
	ck_assert_msg(strstr(err.msg, "project quota") != NULL, "%s", err.msg);
	st_kvlist_free(&kv);
}
END_TEST

/* xfs mounted without pquota: the same clear refusal. */
START_TEST(test_overlay_quota_refused_on_xfs_without_pquota)
{
	if (st_test_sh("cd %s && truncate -s 320M fs.img && mkfs.xfs -q -f fs.img >/dev/null 2>&1 && mkdir fs && "
		       "mount -o loop fs.img fs 2>/dev/null", tmp) != 0)
		ST_SKIP("cannot make and mount an xfs image here");
	char home[PATH_MAX];
	snprintf(home, sizeof(home), "%s/fs/home", tmp);
	struct st_driver *d = open_at(home, NULL);
	struct st_error err = {0};
	ST_OK(st_drv_create(d, "base", NULL, false, NULL, &err), &err);
	struct st_kvlist kv = {0};
	st_kvlist_add(&kv, "size", "10M");
	ck_assert_int_lt(st_drv_create(d, "rw", "base", true, &kv, &err), 0);
	ck_assert_msg(strstr(err.msg, "project quota") && strstr(err.msg, "xfs"), "%s", err.msg);
	st_kvlist_free(&kv);
	st_driver_close(d);
}
END_TEST

int main(void)
{
	if (geteuid() != 0) {
		printf("SKIP test_overlay_quota: needs root\n");
		return 0;
	}
	Suite *s = suite_create("overlay_quota");
	TCase *tc = tcase_create("quota");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_overlay_quota_limits_rw_layers_on_xfs);
	tcase_add_test(tc, test_overlay_quota_limits_rw_layers_on_ext4);
	tcase_add_test(tc, test_overlay_quota_refused_clearly_without_project_quota);
	tcase_add_test(tc, test_overlay_quota_refused_on_xfs_without_pquota);
	suite_add_tcase(s, tc);
	return st_test_main(s);
}
