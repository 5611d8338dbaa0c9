/* The holder table (core/store/holders.c): registration rules, the built-in
 * kinds that st_store_open registers, and that the store's questions about
 * holders go to the registered kind: system check asks it whether a holder
 * is still backed, a dead operation's sweep whether it owns a driver layer,
 * rmi and volume rm whether anything uses what they would remove. vfs
 * driver, on $STRATA_TEST_TMP. */
#include <archive.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "store/store.h"
#include "image/image.h"
#include "container/container.h"
#include "system/system.h"
#include "tartest.h"
#include "testlib.h"

static char *root;
static struct st_store *store;

static void setup(void)
{
	root = st_test_mkdtemp("holders");
	ck_assert_ptr_nonnull(root);
	struct st_error err = {0};
	struct st_store_config cfg = {.root = root, .driver = "vfs"};
	ST_OK(st_store_open(&cfg, &store, &err), &err);
}

static void teardown(void)
{
	st_store_close(store);
	st_test_rmtree(root);
	free(root);
}

static void reg(const char *name, const char *holder, struct st_layer *out)
{
	struct tt_buf b = {0};
	struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, -1);
	tt_file(t, name, 0644, name);
	tt_tar_finish(t, &b);
	struct tt_memreader m;
	struct st_error err = {0};
	ST_OK(st_layer_register(store, NULL, tt_memreader(&m, b.data, b.len, 0), holder, out, &err), &err);
	tt_buf_free(&b);
}

/* "snap:NAME": backed while NAME starts with "keep"; it owns the driver
 * layers whose id starts with "snap-"; "snap:user" uses image:... */
static bool snap_holds(struct st_store *s, const char *name, const char *chain_id, char *why, size_t len)
{
	if (strncmp(name, "keep", 4) == 0)
		return true;
	snprintf(why, len, "names a snapshot that is gone");
	return false;
}

static bool snap_owns(struct st_store *s, const char *driver_id)
{
	return strncmp(driver_id, "snap-", 5) == 0;
}

static int snap_uses(struct st_store *s, const char *object, char **first)
{
	if (strncmp(object, "image:", 6) != 0)
		return 0;
	*first = strdup("user");
	return 1;
}

static const struct st_holder_kind snap_kind = {
	.prefix = "snap",
	.holds_layer = snap_holds,
	.owns_driver_layer = snap_owns,
	.uses = snap_uses,
};

START_TEST(test_register_is_idempotent_per_prefix_and_refuses_a_second_kind)
{
	ck_assert_int_eq(st_holder_kind_register(&snap_kind), 0);
	ck_assert_int_eq(st_holder_kind_register(&snap_kind), 0);
	struct st_holder_kind other = snap_kind;
	ck_assert_int_eq(st_holder_kind_register(&other), -EEXIST);
	struct st_holder_kind bad = {.prefix = "Snap:x", .holds_layer = snap_holds};
	ck_assert_int_eq(st_holder_kind_register(&bad), -EINVAL);
	struct st_holder_kind none = {.prefix = "nothing"};
	ck_assert_int_eq(st_holder_kind_register(&none), -EINVAL);
	const char *name;
	ck_assert_ptr_eq(st_holder_kind_of("snap:keep-1", &name), &snap_kind);
	ck_assert_str_eq(name, "keep-1");
	ck_assert_ptr_null(st_holder_kind_of("user", &name));
}
END_TEST

START_TEST(test_store_open_registers_the_built_in_kinds)
{
	static const char *const prefixes[] = {"image", "container", "cache", "lease"};
	for (size_t i = 0; i < ST_ARRAY_SIZE(prefixes); i++) {
		char holder[64];
		snprintf(holder, sizeof(holder), "%s:x", prefixes[i]);
		ck_assert_msg(st_holder_kind_of(holder, NULL) != NULL, "%s not registered", prefixes[i]);
		struct st_holder_kind impostor = {.prefix = prefixes[i], .holds_layer = snap_holds};
		ck_assert_int_eq(st_holder_kind_register(&impostor), -EEXIST);
	}
	ck_assert_int_eq(st_holder_kind_register(&st_image_holders), 0);
	ck_assert_int_eq(st_holder_kind_register(&st_container_holders), 0);
}
END_TEST

START_TEST(test_check_asks_the_kind_whether_a_holder_is_backed)
{
	ck_assert_int_eq(st_holder_kind_register(&snap_kind), 0);
	struct st_layer kept, gone;
	reg("a", "snap:keep-1", &kept);
	reg("b", "snap:gone-1", &gone);
	struct st_check_report rep;
	struct st_error err = {0};
	ST_OK(st_store_check(store, false, &rep, &err), &err);
	ck_assert_uint_eq(rep.n, 1);
	ck_assert_str_eq(rep.v[0].msg, "holder \"snap:gone-1\" names a snapshot that is gone");
	st_check_report_free(&rep);
	ST_OK(st_store_check(store, true, &rep, &err), &err);
	ck_assert_uint_eq(rep.remaining, 0);
	st_check_report_free(&rep);
	struct st_layer l;
	ST_OK(st_layer_get(store, kept.chain_id, &l, &err), &err);
	st_layer_free(&l);
	ck_assert_int_eq(st_layer_get(store, gone.chain_id, &l, &err), -ENOENT);
	st_layer_free(&kept);
	st_layer_free(&gone);
}
END_TEST

START_TEST(test_sweep_leaves_a_dead_leases_driver_layer_that_a_kind_owns)
{
	ck_assert_int_eq(st_holder_kind_register(&snap_kind), 0);
	struct st_driver *d = st_store_driver(store);
	struct st_error err = {0};
	ST_OK(st_drv_create(d, "snap-1", NULL, true, NULL, &err), &err);
	ST_OK(st_drv_create(d, "scratch-1", NULL, true, NULL, &err), &err);
	/* what a killed process leaves: its claims, its lock no longer held */
	st_test_write(root, "leases/0123456789abcdef0123456789abcdef.json",
		      "{\"layers\":[],\"driver_layers\":[\"snap-1\",\"scratch-1\"]}");
	st_test_write(root, "leases/0123456789abcdef0123456789abcdef.lock", "");
	st_store_close(store);
	struct st_store_config cfg = {.root = root, .driver = "vfs"};
	ST_OK(st_store_open(&cfg, &store, &err), &err);
	d = st_store_driver(store);
	ck_assert(st_drv_exists(d, "snap-1"));
	ck_assert(!st_drv_exists(d, "scratch-1"));
}
END_TEST

START_TEST(test_check_leaves_mounts_of_driver_layers_a_kind_owns)
{
	/* a server's client (dockerd on the docker plugin) keeps its layers
	 * mounted while no strata operation runs: not an idle mount to reset */
	ck_assert_int_eq(st_holder_kind_register(&snap_kind), 0);
	struct st_driver *d = st_store_driver(store);
	struct st_error err = {0};
	char path[PATH_MAX];
	ST_OK(st_drv_create(d, "snap-2", NULL, true, NULL, &err), &err);
	ST_OK(st_drv_create(d, "other-2", NULL, true, NULL, &err), &err);
	ST_OK(st_drv_get(d, "snap-2", path, sizeof(path), &err), &err);
	ST_OK(st_drv_get(d, "other-2", path, sizeof(path), &err), &err);
	struct st_check_report rep;
	ST_OK(st_store_check(store, false, &rep, &err), &err);
	bool other = false;
	for (size_t i = 0; i < rep.n; i++) {
		ck_assert_msg(!strstr(rep.v[i].what, "snap-2"), "%s: %s", rep.v[i].what, rep.v[i].msg);
		other |= strstr(rep.v[i].what, "other-2") && strstr(rep.v[i].msg, "is mounted");
	}
	ck_assert_msg(other, "the unowned layer's idle mount is not reported");
	st_check_report_free(&rep);
	ST_OK(st_drv_put(d, "snap-2", &err), &err);
	ST_OK(st_drv_put(d, "other-2", &err), &err);
}
END_TEST

START_TEST(test_rmi_is_refused_while_a_kind_uses_the_image)
{
	ck_assert_int_eq(st_holder_kind_register(&snap_kind), 0);
	struct st_layer l;
	reg("a", "user", &l);
	char cfg[512], id[ST_DIGEST_LEN + 1];
	snprintf(cfg, sizeof(cfg), "{\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
		 l.diff_id);
	struct st_error err = {0};
	ST_OK(st_image_create(store, cfg, strlen(cfg), id, &err), &err);
	char **done = NULL;
	size_t ndone = 0;
	ck_assert_int_eq(st_image_remove(store, id, false, &done, &ndone, &err), -EBUSY);
	ck_assert_msg(strstr(err.msg, "snap user is using it"), "%s", err.msg);
	st_strv_free(done, ndone);
	st_layer_free(&l);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("holders");
	TCase *tc = tcase_create("table");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_register_is_idempotent_per_prefix_and_refuses_a_second_kind);
	tcase_add_test(tc, test_store_open_registers_the_built_in_kinds);
	tcase_add_test(tc, test_check_asks_the_kind_whether_a_holder_is_backed);
	tcase_add_test(tc, test_sweep_leaves_a_dead_leases_driver_layer_that_a_kind_owns);
	tcase_add_test(tc, test_check_leaves_mounts_of_driver_layers_a_kind_owns);
	tcase_add_test(tc, test_rmi_is_refused_while_a_kind_uses_the_image);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return st_test_main(suite());
}
