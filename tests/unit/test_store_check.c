/* system check and repair (core/system/check*.c), and the states a kill -9 leaves at
 * the points where crash safety matters, made on disk exactly as a killed
 * process leaves them (a dead lease's files, a half-done removal, a use of
 * a mount by a process that is gone), then opened the way the next strata
 * process opens the store. vfs driver, on $STRATA_TEST_TMP. */
#include <archive.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "store/store.h"
#include "container/container.h"
#include "builder/builder.h"
#include "system/system.h"
#include "tartest.h"
#include "testlib.h"

static char *root;
static struct st_store *store;

static void open_store(void)
{
	struct st_error err = {0};
	struct st_store_config cfg = {.root = root, .driver = "vfs"};
	ST_OK(st_store_open(&cfg, &store, &err), &err);
}

/* What the next strata process does: open the store afresh. */
static void reopen(void)
{
	st_store_close(store);
	open_store();
}

/* A process killed while it held the store lock leaves the lock file
 * saying so ('L'): what the next open sweeps for. The renames below stand
 * for such a kill. */
static void killed_under_store_lock(void)
{
	int fd = openat(st_store_root_fd(store), ".lock", O_WRONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "L", 1, 0), 1);
	close(fd);
}

static void setup(void)
{
	root = st_test_mkdtemp("check");
	ck_assert_ptr_nonnull(root);
	open_store();
}

static void teardown(void)
{
	st_store_close(store);
	st_test_rmtree(root);
	free(root);
}

static void reg(const char *parent, const char *name, const char *holder, struct st_layer *out)
{
	struct tt_buf b = {0};
	struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, -1);
	tt_dir(t, "d", 0755);
	tt_file(t, name, 0644, name);
	tt_tar_finish(t, &b);
	struct tt_memreader m;
	struct st_error err = {0};
	ST_OK(st_layer_register(store, parent, tt_memreader(&m, b.data, b.len, 0), holder, out, &err), &err);
	tt_buf_free(&b);
}

/* An image of one layer (registered here, held by the image only). */
static void image(const char *file, char id[ST_DIGEST_LEN + 1], struct st_layer *l)
{
	reg(NULL, file, "user", l);
	char cfg[512];
	snprintf(cfg, sizeof(cfg),
		 "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"/%s\"]},"
		 "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
		 file, l->diff_id);
	struct st_error err = {0};
	ST_OK(st_image_create(store, cfg, strlen(cfg), id, &err), &err);
	ST_OK(st_layer_release(store, l->chain_id, "user", &err), &err);
}

static struct st_check_report rep;

static size_t check(bool repair)
{
	struct st_error err = {0};
	st_check_report_free(&rep);
	ST_OK(st_store_check(store, repair, &rep, &err), &err);
	for (size_t i = 0; i < rep.n; i++)
		printf("  check: %s: %s [%d] %s\n", rep.v[i].what, rep.v[i].msg, rep.v[i].state, rep.v[i].result);
	return rep.n;
}

static bool found(const char *what)
{
	for (size_t i = 0; i < rep.n; i++)
		if (strstr(rep.v[i].msg, what) || strstr(rep.v[i].what, what))
			return true;
	return false;
}

static bool has_holder(const char *chain, const char *holder)
{
	struct st_layer l;
	struct st_error err;
	if (st_layer_get(store, chain, &l, &err) < 0)
		return false;
	bool h = false;
	for (size_t i = 0; i < l.nholders; i++)
		h |= strcmp(l.holders[i], holder) == 0;
	st_layer_free(&l);
	return h;
}

static bool layer_exists(const char *chain)
{
	struct st_layer l;
	struct st_error err;
	if (st_layer_get(store, chain, &l, &err) < 0)
		return false;
	st_layer_free(&l);
	return true;
}

/* The files a lease of a killed process leaves: NAME.json and NAME.lock,
 * the lock no longer held. */
static void dead_lease(const char *name, const char *layers_json, const char *driver_layers_json)
{
	char p[PATH_MAX], text[2048];
	snprintf(p, sizeof(p), "leases/%s.json", name);
	snprintf(text, sizeof(text), "{\"layers\":%s,\"driver_layers\":%s}", layers_json, driver_layers_json);
	st_test_write(root, p, text);
	snprintf(p, sizeof(p), "leases/%s.lock", name);
	st_test_write(root, p, "");
}

/* Does the export of the layer hash to its diff id? */
static int tar_ok(const char *chain, struct st_error *err)
{
	struct tt_memwriter w = {0};
	int r = st_layer_tar(store, chain, tt_memwriter(&w), err);
	tt_buf_free(&w.buf);
	return r;
}

/* ------------------------------------------------------------ check */

START_TEST(test_check_finds_nothing_in_a_consistent_store)
{
	char id[ST_DIGEST_LEN + 1];
	struct st_layer l, l2;
	image("a", id, &l);
	reg(l.chain_id, "b", "user", &l2);
	struct st_error err = {0};
	ST_OK(st_volume_create(store, NULL, "v1", NULL, NULL, &err), &err);
	ck_assert_uint_eq(check(false), 0);
	ck_assert_uint_eq(rep.layers, 2);
	ck_assert_uint_eq(rep.images, 1);
	ck_assert_uint_eq(rep.volumes, 1);
	st_layer_free(&l);
	st_layer_free(&l2);
}
END_TEST

START_TEST(test_check_releases_a_holder_naming_a_missing_image)
{
	/* st_image_create killed after holding the layer, before publishing */
	struct st_layer l;
	reg(NULL, "a", "user", &l);
	struct st_error err = {0};
	const char *ghost = "image:sha256:0000000000000000000000000000000000000000000000000000000000000000";
	ST_OK(st_layer_hold(store, l.chain_id, ghost, &err), &err);
	ck_assert_uint_eq(check(false), 1);
	ck_assert(found("names an image that does not exist"));
	ck_assert_int_eq(rep.v[0].state, ST_CHECK_FOUND);
	ck_assert(has_holder(l.chain_id, ghost)); /* a check alone changes nothing */
	check(true);
	ck_assert_int_eq(rep.v[0].state, ST_CHECK_REPAIRED);
	ck_assert_uint_eq(rep.remaining, 0);
	ck_assert(!has_holder(l.chain_id, ghost));
	ck_assert(has_holder(l.chain_id, "user"));
	ck_assert_uint_eq(check(false), 0);
	st_layer_free(&l);
}
END_TEST

START_TEST(test_check_dead_lease_holder_released_and_the_layer_it_alone_held_removed)
{
	struct st_layer l;
	reg(NULL, "a", "user", &l);
	struct st_error err = {0};
	const char *dead = "lease:0123456789abcdef0123456789abcdef";
	ST_OK(st_layer_hold(store, l.chain_id, dead, &err), &err);
	ST_OK(st_layer_release(store, l.chain_id, "user", &err), &err);
	ck_assert(layer_exists(l.chain_id));
	check(false);
	ck_assert(found("no longer running"));
	check(true);
	ck_assert_uint_eq(rep.remaining, 0);
	ck_assert(!layer_exists(l.chain_id));
	ck_assert(!st_drv_exists(st_store_driver(store), l.cache_id));
	st_layer_free(&l);
}
END_TEST

START_TEST(test_check_removes_orphaned_driver_layers_stacked_on_each_other)
{
	struct st_driver *d = st_store_driver(store);
	struct st_error err = {0};
	ST_OK(st_drv_create(d, "orphan-a", NULL, false, NULL, &err), &err);
	ST_OK(st_drv_create(d, "orphan-b", "orphan-a", true, NULL, &err), &err);
	ck_assert_uint_eq(check(false), 2);
	ck_assert(found("orphaned data"));
	check(true);
	ck_assert_uint_eq(rep.remaining, 0);
	ck_assert(!st_drv_exists(d, "orphan-a"));
	ck_assert(!st_drv_exists(d, "orphan-b"));
}
END_TEST

START_TEST(test_check_leaves_what_a_live_operation_makes)
{
	struct st_driver *d = st_store_driver(store);
	struct st_error err = {0};
	struct st_lease lease;
	ST_OK(st_lease_new(store, &lease, &err), &err);
	ST_OK(st_lease_add_driver_layer(&lease, "in-progress", &err), &err);
	ST_OK(st_drv_create(d, "in-progress", NULL, true, NULL, &err), &err);
	ck_assert_int_ge(mkdirat(st_store_root_fd(store), "layers/.tmp-in-progress", 0700), 0);
	ck_assert_uint_eq(check(true), 0);
	ck_assert_int_eq(rep.live_leases, 1);
	ck_assert(st_drv_exists(d, "in-progress"));
	ck_assert(st_test_exists(root, "layers/.tmp-in-progress"));
	/* the next process's open leaves them too */
	struct st_store *other;
	struct st_store_config cfg = {.root = root, .driver = "vfs"};
	ST_OK(st_store_open(&cfg, &other, &err), &err);
	st_store_close(other);
	ck_assert(st_test_exists(root, "layers/.tmp-in-progress"));
	ck_assert(st_drv_exists(d, "in-progress"));
	/* once the operation is gone without cleaning up, it is all leftovers */
	lease.lock_fd >= 0 ? close(lease.lock_fd) : 0;
	lease.lock_fd = -1;
	st_lease_end(&lease);
	st_test_sh("rm -f '%s'/leases/*", root);
	check(false);
	ck_assert(found("orphaned data"));
	ck_assert(found("left half made"));
	check(true);
	ck_assert_uint_eq(rep.remaining, 0);
	ck_assert(!st_test_exists(root, "layers/.tmp-in-progress"));
}
END_TEST

START_TEST(test_check_restores_a_missing_image_hold)
{
	char id[ST_DIGEST_LEN + 1], holder[ST_DIGEST_LEN + 16];
	struct st_layer l;
	image("a", id, &l);
	snprintf(holder, sizeof(holder), "image:%s", id);
	struct st_error err = {0};
	ST_OK(st_layer_hold(store, l.chain_id, "user", &err), &err);
	ST_OK(st_layer_release(store, l.chain_id, holder, &err), &err);
	check(false);
	ck_assert(found("does not hold its top layer"));
	check(true);
	ck_assert_uint_eq(rep.remaining, 0);
	ck_assert(has_holder(l.chain_id, holder));
	st_layer_free(&l);
}
END_TEST

START_TEST(test_check_removes_a_tag_of_a_missing_image_and_leftover_temporaries)
{
	st_test_write(root, "repositories.json",
		      "{\"ghost:latest\":\"sha256:1111111111111111111111111111111111111111111111111111111111111111\"}");
	st_test_write(root, "images/.tmp-0123/config.json", "{}");
	st_test_write(root, ".tmp-repositories.json-0123456789abcdef", "{");
	check(false);
	ck_assert(found("which does not exist"));
	ck_assert(found("left half made"));
	ck_assert(found("interrupted write"));
	check(true);
	ck_assert_uint_eq(rep.remaining, 0);
	ck_assert(!st_test_exists(root, "images/.tmp-0123"));
	char *repos = st_test_read(root, "repositories.json");
	ck_assert_ptr_null(strstr(repos, "ghost"));
	free(repos);
}
END_TEST

START_TEST(test_check_drops_a_damaged_layer_record_then_its_orphaned_data)
{
	struct st_layer l;
	reg(NULL, "a", "user", &l);
	char p[200];
	snprintf(p, sizeof(p), "layers/%s/meta.json", l.chain_id + 7);
	st_test_write(root, p, "{not json");
	check(false);
	ck_assert(found("unreadable"));
	check(true);
	ck_assert_uint_eq(rep.remaining, 0);
	ck_assert(found("orphaned data")); /* found in the second round */
	ck_assert(!st_drv_exists(st_store_driver(store), l.cache_id));
	st_layer_free(&l);
}
END_TEST

START_TEST(test_check_reports_lost_layer_data_it_cannot_repair)
{
	char id[ST_DIGEST_LEN + 1];
	struct st_layer l;
	image("a", id, &l);
	st_test_sh("rm -rf '%s/vfs/dir/%s'", root, l.cache_id);
	check(true);
	ck_assert(found("has no data"));
	ck_assert_uint_gt(rep.remaining, 0);
	bool manual = false;
	for (size_t i = 0; i < rep.n; i++)
		manual |= rep.v[i].state == ST_CHECK_MANUAL;
	ck_assert(manual);
	st_layer_free(&l);
}
END_TEST

START_TEST(test_check_drops_a_mount_count_nobody_holds)
{
	struct st_layer l;
	reg(NULL, "a", "user", &l);
	struct st_driver *d = st_store_driver(store);
	char path[PATH_MAX];
	struct st_error err = {0};
	/* a persistent use (as `strata driver mount`) of a layer-store layer,
	 * with no operation running */
	ST_OK(st_drv_get(d, l.cache_id, path, sizeof(path), &err), &err);
	check(false);
	ck_assert(found("no strata operation is running"));
	check(true);
	ck_assert_uint_eq(rep.remaining, 0);
	ck_assert_int_eq(st_drv_mount_count(d, l.cache_id), 0);
	st_layer_free(&l);
}
END_TEST

START_TEST(test_check_unmounts_a_volume_held_for_a_container_that_is_gone)
{
	struct st_error err = {0};
	char path[PATH_MAX];
	const char *gone = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	ST_OK(st_volume_create(store, NULL, "v1", NULL, NULL, &err), &err);
	ST_OK(st_volume_mount(store, "v1", gone, path, sizeof(path), &err), &err);
	ST_OK(st_volume_mount(store, "v1", "by-hand", path, sizeof(path), &err), &err);
	check(false);
	ck_assert_uint_eq(rep.n, 1); /* "by-hand" is a user's */
	ck_assert(found("no longer exists"));
	check(true);
	ck_assert_uint_eq(rep.remaining, 0);
	struct st_volume v;
	ST_OK(st_volume_inspect(store, "v1", &v, &err), &err);
	ck_assert_uint_eq(v.nmount_ids, 1);
	ck_assert_str_eq(v.mount_ids[0], "by-hand");
	st_volume_free(&v);
}
END_TEST

/* ------------------------------------------- states a kill -9 leaves */

START_TEST(test_kill_after_publish_keeps_the_published_layer)
{
	/* st_layer_register killed between publishing and dropping its claim
	 * on the driver layer: the claim must not take the layer's data */
	struct st_layer l;
	reg(NULL, "a", "user", &l);
	char dl[200];
	snprintf(dl, sizeof(dl), "[\"%s\"]", l.cache_id);
	dead_lease("0123456789abcdef0123456789abcdef", "[]", dl);
	reopen();
	struct st_error err = {0};
	ST_OK(tar_ok(l.chain_id, &err), &err);
	ck_assert(!st_test_exists(root, "leases/0123456789abcdef0123456789abcdef.json"));
	ck_assert_uint_eq(check(false), 0);
	st_layer_free(&l);
}
END_TEST

START_TEST(test_kill_after_container_create_keeps_the_container_layers)
{
	char img[ST_DIGEST_LEN + 1], cid[65];
	struct st_layer l;
	image("a", img, &l);
	struct st_error err = {0};
	struct st_container_opts o = {.name = "c1", .image = img};
	ST_OK(st_container_create(store, &o, cid, &err), &err);
	char dl[300];
	snprintf(dl, sizeof(dl), "[\"%s-init\",\"%s\"]", cid, cid);
	dead_lease("11112222333344445555666677778888", "[]", dl);
	reopen();
	struct st_driver *d = st_store_driver(store);
	char init[80];
	snprintf(init, sizeof(init), "%s-init", cid);
	ck_assert(st_drv_exists(d, cid));
	ck_assert(st_drv_exists(d, init));
	ck_assert_uint_eq(check(false), 0);
	st_layer_free(&l);
}
END_TEST

START_TEST(test_kill_during_a_sweep_is_finished_by_the_next_open)
{
	/* a dead build: its lease claims a layer and two stacked driver layers,
	 * and it held a layer with its holder; the sweeping process was itself
	 * killed after removing the top driver layer only */
	struct st_driver *d = st_store_driver(store);
	struct st_error err = {0};
	struct st_layer l;
	reg(NULL, "a", "user", &l);
	const char *name = "99990000999900009999000099990000";
	char holder[64];
	snprintf(holder, sizeof(holder), "lease:%s", name);
	ST_OK(st_layer_hold(store, l.chain_id, holder, &err), &err);
	ST_OK(st_drv_create(d, "build-rw-1", l.cache_id, true, NULL, &err), &err);
	char layers[120];
	snprintf(layers, sizeof(layers), "[\"%s\"]", l.chain_id);
	dead_lease(name, layers, "[\"build-rw-1\",\"build-rw-2\"]");
	reopen();
	d = st_store_driver(store);
	ck_assert(!st_drv_exists(d, "build-rw-1"));
	ck_assert(!has_holder(l.chain_id, holder));
	ck_assert(has_holder(l.chain_id, "user"));
	char p[80];
	snprintf(p, sizeof(p), "leases/%s.lock", name);
	ck_assert(!st_test_exists(root, p));
	ck_assert_uint_eq(check(false), 0);
	st_layer_free(&l);
}
END_TEST

START_TEST(test_dead_lease_stays_while_its_driver_layer_cannot_go)
{
	/* its driver layer has a child (a stand-in for a busy layer): the lease
	 * stays, to be retried, until the layer can go */
	struct st_driver *d = st_store_driver(store);
	struct st_error err = {0};
	ST_OK(st_drv_create(d, "claimed", NULL, false, NULL, &err), &err);
	ST_OK(st_drv_create(d, "child", "claimed", false, NULL, &err), &err);
	dead_lease("aaaabbbbccccddddaaaabbbbccccdddd", "[]", "[\"claimed\"]");
	reopen();
	d = st_store_driver(store);
	ck_assert(st_drv_exists(d, "claimed"));
	ck_assert(st_test_exists(root, "leases/aaaabbbbccccddddaaaabbbbccccdddd.json"));
	check(false);
	ck_assert(found("not undone yet"));
	ST_OK(st_drv_remove(d, "child", &err), &err);
	reopen();
	d = st_store_driver(store);
	ck_assert(!st_drv_exists(d, "claimed"));
	ck_assert(!st_test_exists(root, "leases/aaaabbbbccccddddaaaabbbbccccdddd.json"));
}
END_TEST

START_TEST(test_cut_short_layer_removal_walks_on_to_the_parent)
{
	struct st_layer p, c;
	reg(NULL, "p", "user", &p);
	reg(p.chain_id, "c", "user", &c);
	struct st_error err = {0};
	/* the parent lives only for its child now */
	ST_OK(st_layer_release(store, p.chain_id, "user", &err), &err);
	ck_assert(layer_exists(p.chain_id));
	/* releasing the child was killed right after its rename to trash */
	char from[200], to[200];
	snprintf(from, sizeof(from), "layers/%s", c.chain_id + 7);
	snprintf(to, sizeof(to), "layers/.trash-%s-0123456789abcdef", c.chain_id + 7);
	ck_assert_int_eq(renameat(st_store_root_fd(store), from, st_store_root_fd(store), to), 0);
	killed_under_store_lock();
	reopen();
	ck_assert(!layer_exists(c.chain_id));
	ck_assert(!layer_exists(p.chain_id));
	ck_assert(!st_drv_exists(st_store_driver(store), c.cache_id));
	ck_assert(!st_drv_exists(st_store_driver(store), p.cache_id));
	ck_assert_uint_eq(check(false), 0);
	st_layer_free(&p);
	st_layer_free(&c);
}
END_TEST

START_TEST(test_mount_use_of_a_killed_process_is_dropped)
{
	struct st_driver *d = st_store_driver(store);
	struct st_error err = {0};
	ST_OK(st_drv_create(d, "used", NULL, false, NULL, &err), &err);
	pid_t pid = fork();
	if (pid == 0) {
		int fd;
		/* a diff or an export, killed while it reads the layer */
		_exit(st_drv_open_dir(d, "used", &fd, &err) < 0 ? 1 : 0);
	}
	int ws;
	ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
	ck_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
	ck_assert_int_eq(st_drv_mount_count(d, "used"), 0);
	ST_OK(st_drv_remove(d, "used", &err), &err);
	/* a persistent use outlives its process */
	ST_OK(st_drv_create(d, "kept", NULL, false, NULL, &err), &err);
	pid = fork();
	if (pid == 0) {
		char path[PATH_MAX];
		_exit(st_drv_get(d, "kept", path, sizeof(path), &err) < 0 ? 1 : 0);
	}
	ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
	ck_assert_int_eq(st_drv_mount_count(d, "kept"), 1);
	ck_assert_int_eq(st_drv_remove(d, "kept", &err), -EBUSY);
}
END_TEST

START_TEST(test_cut_short_container_rm_releases_its_hold_when_the_image_is_gone)
{
	char img[ST_DIGEST_LEN + 1], cid[65];
	struct st_layer l;
	image("a", img, &l);
	struct st_error err = {0};
	struct st_container_opts o = {.name = "c1", .image = img};
	ST_OK(st_container_create(store, &o, cid, &err), &err);
	ST_OK(st_layer_hold(store, l.chain_id, "user", &err), &err);
	/* rm killed after its rename; then the image went (rmi does not see a
	 * renamed container) */
	char from[100], to[120];
	snprintf(from, sizeof(from), "containers/%s", cid);
	snprintf(to, sizeof(to), "containers/.trash-%s", cid);
	ck_assert_int_eq(renameat(st_store_root_fd(store), from, st_store_root_fd(store), to), 0);
	killed_under_store_lock();
	char **done = NULL;
	size_t nd = 0;
	ST_OK(st_image_remove(store, img, false, &done, &nd, &err), &err);
	st_strv_free(done, nd);
	reopen();
	char holder[80];
	snprintf(holder, sizeof(holder), "container:%s", cid);
	ck_assert(!has_holder(l.chain_id, holder));
	ck_assert(!st_test_exists(root, to));
	ck_assert_uint_eq(check(false), 0);
	st_layer_free(&l);
}
END_TEST

/* ------------------------------------------------ volumes, df, prune */

START_TEST(test_volume_of_a_stopped_container_is_in_use)
{
	char img[ST_DIGEST_LEN + 1], cid[65];
	struct st_layer l;
	image("a", img, &l);
	struct st_error err = {0};
	ST_OK(st_volume_create(store, NULL, "data", NULL, NULL, &err), &err);
	ST_OK(st_volume_create(store, NULL, "spare", NULL, NULL, &err), &err);
	struct st_mount_spec m = {.src = "data", .dst = "/data", .volume = true};
	struct st_container_opts o = {.name = "c1", .image = img, .mounts = &m, .nmounts = 1};
	ST_OK(st_container_create(store, &o, cid, &err), &err);
	ck_assert(st_volume_in_use(store, "data"));
	ck_assert(!st_volume_in_use(store, "spare"));
	ck_assert_int_eq(st_volume_remove(store, "data", false, &err), -EBUSY);
	ck_assert_ptr_nonnull(strstr(err.msg, "c1"));
	ck_assert_int_eq(st_volume_remove(store, "data", true, &err), -EBUSY);
	char **names;
	size_t n;
	int64_t freed;
	ST_OK(st_volume_prune(store, &names, &n, &freed, &err), &err);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(names[0], "spare");
	st_strv_free(names, n);
	ST_OK(st_container_remove(store, cid, false, &err), &err);
	ST_OK(st_volume_remove(store, "data", false, &err), &err);
	st_layer_free(&l);
}
END_TEST

START_TEST(test_container_create_refuses_an_invalid_volume_name)
{
	char img[ST_DIGEST_LEN + 1], cid[65];
	struct st_layer l;
	image("a", img, &l);
	struct st_error err = {0};
	const char *bad[] = {"../etc", "a/b", ".hidden", "x", "-dash"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct st_mount_spec m = {.src = (char *)bad[i], .dst = "/data", .volume = true};
		struct st_container_opts o = {.image = img, .mounts = &m, .nmounts = 1};
		ck_assert_int_eq(st_container_create(store, &o, cid, &err), -EINVAL);
		ck_assert_ptr_nonnull(strstr(err.msg, "invalid volume name"));
	}
	ck_assert_uint_eq(check(false), 0);
	st_layer_free(&l);
}
END_TEST

START_TEST(test_df_counts_shared_layers_once_and_prune_frees_them)
{
	char a[ST_DIGEST_LEN + 1], b[ST_DIGEST_LEN + 1], cid[65];
	struct st_layer la, lb, shared;
	image("a", a, &la);
	/* b: a second image on a's layer */
	reg(la.chain_id, "b", "user", &lb);
	char cfg[600];
	snprintf(cfg, sizeof(cfg), "{\"config\":{\"Cmd\":[\"/b\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\",\"%s\"]}}",
		 la.diff_id, lb.diff_id);
	struct st_error err = {0};
	ST_OK(st_image_create(store, cfg, strlen(cfg), b, &err), &err);
	ST_OK(st_layer_release(store, lb.chain_id, "user", &err), &err);
	ST_OK(st_image_tag(store, b, "keep:1", &err), &err);
	reg(NULL, "s", "user", &shared);
	struct st_container_opts o = {.name = "c1", .image = a};
	ST_OK(st_container_create(store, &o, cid, &err), &err);
	struct st_df df;
	ST_OK(st_system_df(store, &df, &err), &err);
	ck_assert_int_eq(df.images.total, 2);
	ck_assert_int_eq(df.images.active, 1);
	ck_assert_int_eq(df.images.size, la.size + lb.size);
	ck_assert_int_eq(df.images.reclaimable, lb.size);
	ck_assert_int_eq(df.layers.total, 3);
	ck_assert_int_eq(df.layers.size, la.size + lb.size + shared.size);
	ck_assert_int_eq(df.containers.total, 1);
	ck_assert_int_eq(df.containers.active, 0);
	/* prune: the stopped container and the dangling image a; b is tagged */
	struct st_prune_opts po = {0};
	struct st_prune_result res;
	ST_OK(st_system_prune(store, &po, &res, &err), &err);
	ck_assert_uint_eq(res.ncontainers, 1);
	ck_assert_uint_eq(res.nimages, 1);
	ck_assert_ptr_nonnull(strstr(res.images[0], "deleted: "));
	ck_assert(layer_exists(la.chain_id)); /* under b */
	st_prune_result_free(&res);
	po.all = true;
	ST_OK(st_system_prune(store, &po, &res, &err), &err);
	ck_assert_int_eq(res.reclaimed, la.size + lb.size);
	ck_assert(!layer_exists(la.chain_id));
	ck_assert(layer_exists(shared.chain_id)); /* a user's */
	st_prune_result_free(&res);
	ck_assert_uint_eq(check(false), 0);
	st_layer_free(&la);
	st_layer_free(&lb);
	st_layer_free(&shared);
}
END_TEST

START_TEST(test_build_cache_prune_keeps_entries_of_image_layers)
{
	struct st_layer l, x;
	char id[ST_DIGEST_LEN + 1];
	image("a", id, &l);
	reg(NULL, "x", "user", &x);
	struct st_build_state st = {.cfg = json_object_new_object()};
	snprintf(st.top, sizeof(st.top), "%s", l.chain_id);
	char k1[ST_DIGEST_LEN + 1], k2[ST_DIGEST_LEN + 1];
	st_cache_key(&st, "RUN one", NULL, k1);
	st_cache_key(&st, "RUN two", NULL, k2);
	struct st_error err = {0};
	ST_OK(st_cache_put(store, k1, &st, &err), &err);
	snprintf(st.top, sizeof(st.top), "%s", x.chain_id);
	ST_OK(st_cache_put(store, k2, &st, &err), &err);
	ST_OK(st_layer_release(store, x.chain_id, "user", &err), &err);
	json_object_put(st.cfg);
	ck_assert_uint_eq(check(false), 0);
	struct st_prune_opts po = {0};
	struct st_prune_result res;
	ST_OK(st_image_tag(store, id, "a:1", &err), &err);
	ST_OK(st_system_prune(store, &po, &res, &err), &err);
	ck_assert_uint_eq(res.ncache, 1);
	ck_assert_str_eq(res.cache[0], k2);
	ck_assert(!layer_exists(x.chain_id));
	ck_assert(layer_exists(l.chain_id));
	st_prune_result_free(&res);
	ck_assert_uint_eq(check(false), 0);
	st_layer_free(&l);
	st_layer_free(&x);
}
END_TEST

START_TEST(test_build_leaves_no_lease_holder_on_its_layers)
{
	char img[ST_DIGEST_LEN + 1], id[ST_DIGEST_LEN + 1];
	struct st_layer l;
	image("a", img, &l);
	struct st_error err = {0};
	ST_OK(st_image_tag(store, img, "base:1", &err), &err);
	char *ctx = st_test_mkdtemp("ctx");
	st_test_write(ctx, "Dockerfile", "FROM base:1\nCOPY f /f\nENV A=1\nCOPY g /g\n");
	st_test_write(ctx, "f", "f\n");
	st_test_write(ctx, "g", "g\n");
	struct st_build_opts o = {.context = ctx};
	ST_OK(st_build(store, &o, id, &err), &err);
	struct st_layer *v;
	size_t n;
	ST_OK(st_layer_list(store, &v, &n, &err), &err);
	ck_assert_uint_eq(n, 3);
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < v[i].nholders; k++)
			ck_assert_msg(strncmp(v[i].holders[k], "lease:", 6) != 0, "layer %s keeps holder %s", v[i].chain_id,
				      v[i].holders[k]);
	st_layer_list_free(v, n);
	ck_assert_uint_eq(check(false), 0);
	st_test_rmtree(ctx);
	free(ctx);
	st_layer_free(&l);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("store_check");
	TCase *tc = tcase_create("check");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_check_finds_nothing_in_a_consistent_store);
	tcase_add_test(tc, test_check_releases_a_holder_naming_a_missing_image);
	tcase_add_test(tc, test_check_dead_lease_holder_released_and_the_layer_it_alone_held_removed);
	tcase_add_test(tc, test_check_removes_orphaned_driver_layers_stacked_on_each_other);
	tcase_add_test(tc, test_check_leaves_what_a_live_operation_makes);
	tcase_add_test(tc, test_check_restores_a_missing_image_hold);
	tcase_add_test(tc, test_check_removes_a_tag_of_a_missing_image_and_leftover_temporaries);
	tcase_add_test(tc, test_check_drops_a_damaged_layer_record_then_its_orphaned_data);
	tcase_add_test(tc, test_check_reports_lost_layer_data_it_cannot_repair);
	tcase_add_test(tc, test_check_drops_a_mount_count_nobody_holds);
	tcase_add_test(tc, test_check_unmounts_a_volume_held_for_a_container_that_is_gone);
	suite_add_tcase(s, tc);
	tc = tcase_create("crash");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_kill_after_publish_keeps_the_published_layer);
	tcase_add_test(tc, test_kill_after_container_create_keeps_the_container_layers);
	tcase_add_test(tc, test_kill_during_a_sweep_is_finished_by_the_next_open);
	tcase_add_test(tc, test_dead_lease_stays_while_its_driver_layer_cannot_go);
	tcase_add_test(tc, test_cut_short_layer_removal_walks_on_to_the_parent);
	tcase_add_test(tc, test_mount_use_of_a_killed_process_is_dropped);
	tcase_add_test(tc, test_cut_short_container_rm_releases_its_hold_when_the_image_is_gone);
	suite_add_tcase(s, tc);
	tc = tcase_create("system");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_volume_of_a_stopped_container_is_in_use);
	tcase_add_test(tc, test_container_create_refuses_an_invalid_volume_name);
	tcase_add_test(tc, test_df_counts_shared_layers_once_and_prune_frees_them);
	tcase_add_test(tc, test_build_cache_prune_keeps_entries_of_image_layers);
	tcase_add_test(tc, test_build_leaves_no_lease_holder_on_its_layers);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return st_test_main(suite());
}
