/* core/base/filter.c (docker's list filters) and what stands on it:
 * core/image/image_filter.c (strata images --filter) and the repository
 * digests of core/image/image.c (RepoDigests, name@sha256: references, rmi
 * of digests), on a vfs store with images made from configs here; volume
 * labels and core/volume/volume_filter.c (volume ls --filter). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "image/image.h"
#include "volume/volume.h"
#include "testlib.h"

static char *tmp;
static struct st_store *store;

static void setup(void)
{
	store = st_test_vfs_store("filters", &tmp, NULL);
}

static void teardown(void)
{
	st_store_close(store);
	st_test_rmtree(tmp);
	free(tmp);
}

static void filters(struct st_kvlist *f, const char *const *args)
{
	struct st_error err = {0};
	for (; *args; args++)
		ST_OK(st_filter_add(f, *args, &err), &err);
}

/* ---------------------------------------------------------- base filters */

START_TEST(test_filter_args_are_trimmed_folded_and_kept_once)
{
	struct st_kvlist f = {0};
	struct st_error err = {0};
	filters(&f, (const char *const[]){" Label = a=1 ", "label=a=1", "name=x", NULL});
	ck_assert_uint_eq(f.n, 2);
	ck_assert_str_eq(f.v[0].key, "label");
	ck_assert_str_eq(f.v[0].value, "a=1");
	ck_assert_int_eq(st_filter_add(&f, "novalue", &err), -EINVAL);
	ck_assert_str_eq(err.msg, "bad format of filter \"novalue\" (expected name=value)");
	static const char *const keys[] = {"label", "name", NULL};
	ST_OK(st_filter_validate(&f, keys, &err), &err);
	filters(&f, (const char *const[]){"colour=red", NULL});
	ck_assert_int_eq(st_filter_validate(&f, keys, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "invalid filter 'colour'");
	st_kvlist_free(&f);
}
END_TEST

START_TEST(test_same_key_ors_and_an_absent_key_matches_everything)
{
	struct st_kvlist f = {0};
	struct st_error err = {0};
	ck_assert(st_filter_exact(&f, "status", "running"));
	ck_assert(st_filter_regex(&f, "name", "anything"));
	filters(&f, (const char *const[]){"status=running", "status=exited", "name=^web", "name=db$", NULL});
	ck_assert(st_filter_exact(&f, "status", "exited"));
	ck_assert(!st_filter_exact(&f, "status", "created"));
	ck_assert(st_filter_regex(&f, "name", "web-1"));
	ck_assert(st_filter_regex(&f, "name", "main-db"));
	ck_assert(!st_filter_regex(&f, "name", "cache"));
	ck_assert_int_eq(st_filter_invalid_value(&f, "status", &err), -EINVAL);
	ck_assert_str_eq(err.msg, "invalid filter 'status=[running exited]'");
	st_kvlist_free(&f);
	/* docker's Match: the value itself, and an expression that does not
	 * compile matches nothing else */
	filters(&f, (const char *const[]){"name=a(", NULL});
	ck_assert(!st_filter_regex(&f, "name", "a"));
	ck_assert(st_filter_regex(&f, "name", "a("));
	st_kvlist_free(&f);
}
END_TEST

START_TEST(test_label_filters_all_have_to_hold)
{
	struct st_kvlist f = {0}, labels = {0};
	st_kvlist_add(&labels, "tier", "web");
	st_kvlist_add(&labels, "owner", "%s", "");
	filters(&f, (const char *const[]){"label=tier", NULL});
	ck_assert(st_filter_labels(&f, "label", &labels));
	filters(&f, (const char *const[]){"label=tier=web", "label=owner", NULL});
	ck_assert(st_filter_labels(&f, "label", &labels));
	filters(&f, (const char *const[]){"label=tier=db", NULL});
	ck_assert(!st_filter_labels(&f, "label", &labels)); /* AND, not OR */
	st_kvlist_free(&f);
	filters(&f, (const char *const[]){"label=owner=", NULL});
	ck_assert(st_filter_labels(&f, "label", &labels));
	st_kvlist_free(&f);
	filters(&f, (const char *const[]){"label=tie", NULL});
	ck_assert(!st_filter_labels(&f, "label", &labels)); /* a whole key, not a prefix */
	st_kvlist_free(&f);
	st_kvlist_free(&labels);
}
END_TEST

START_TEST(test_glob_is_go_path_match_star_stops_at_slash)
{
	ck_assert(st_filter_glob("busy*", "busybox:latest"));
	ck_assert(!st_filter_glob("*", "me/app:1"));
	ck_assert(st_filter_glob("*/*", "me/app:1"));
	ck_assert(st_filter_glob("me/app:[0-9]", "me/app:1"));
	ck_assert(!st_filter_glob("me/app:?", "me/app:10"));
	/* docker's FamiliarMatch: the whole reference, else the name */
	ck_assert(st_image_ref_matches("me/app", "me/app:1"));
	ck_assert(st_image_ref_matches("me/app", "me/app@sha256:0123"));
	ck_assert(st_image_ref_matches("localhost:5000/*", "localhost:5000/app:1"));
	ck_assert(!st_image_ref_matches("me/ap", "me/app:1"));
	ck_assert(!st_image_ref_matches("*:2", "me/app:1"));
}
END_TEST

/* --------------------------------------------------------- images */

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"

/* An image without layers whose config says when it was made and its labels. */
static void image(const char *created, const char *labels, const char *tag, char id[ST_DIGEST_LEN + 1])
{
	char cfg[512];
	snprintf(cfg, sizeof(cfg),
		 "{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"%s\",\"config\":{\"Labels\":%s},"
		 "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
		 created, labels);
	struct st_error err = {0};
	ST_OK(st_image_create(store, cfg, strlen(cfg), id, &err), &err);
	if (tag)
		ST_OK(st_image_tag(store, id, tag, &err), &err);
}

/* The listing through filters, as "id12 tag,tag digest" words sorted by
 * creation as made here (a, b, c). */
static char *listing(const char *const *args)
{
	struct st_kvlist f = {0};
	filters(&f, args);
	struct st_error err = {0};
	struct st_image *v;
	size_t n;
	ST_OK(st_image_list_filtered(store, &f, &v, &n, &err), &err);
	st_kvlist_free(&f);
	/* oldest first */
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && strcmp(v[k].config, v[k - 1].config) < 0; k--) {
			struct st_image t = v[k];
			v[k] = v[k - 1];
			v[k - 1] = t;
		}
	static char out[2048];
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t used = strlen(out);
		snprintf(out + used, sizeof(out) - used, "%s[", i ? " " : "");
		for (size_t k = 0; k < v[i].ntags; k++) {
			used = strlen(out);
			snprintf(out + used, sizeof(out) - used, "%s%s", k ? "," : "", v[i].tags[k]);
		}
		for (size_t k = 0; k < v[i].ndigests; k++) {
			used = strlen(out);
			snprintf(out + used, sizeof(out) - used, "%s%.*s", k || v[i].ntags ? "," : "",
				 (int)(strchr(v[i].digests[k], '@') - v[i].digests[k] + 7), v[i].digests[k]);
		}
		used = strlen(out);
		snprintf(out + used, sizeof(out) - used, "]");
	}
	st_image_list_free(v, n);
	return out;
}

START_TEST(test_digest_references_normalise_to_the_familiar_name)
{
	char out[400];
	struct st_error err = {0};
	ck_assert_int_eq(st_image_ref_digest("busybox:1", out, sizeof(out), &err), 0);
	ck_assert_int_eq(st_image_ref_digest("docker.io/library/busybox@" D1, out, sizeof(out), &err), 1);
	ck_assert_str_eq(out, "busybox@" D1);
	ck_assert_int_eq(st_image_ref_digest("localhost:5000/app:7@" D1, out, sizeof(out), &err), 1);
	ck_assert_str_eq(out, "localhost:5000/app@" D1); /* the tag goes, as docker keeps it */
	ck_assert_int_eq(st_image_ref_digest("app@sha256:abc", out, sizeof(out), &err), -EINVAL);
	ck_assert(strstr(err.msg, "is no sha256 digest") != NULL);
	ck_assert_int_eq(st_image_ref_digest("App@" D1, out, sizeof(out), &err), -EINVAL);
}
END_TEST

START_TEST(test_repo_digests_resolve_and_are_listed_apart_from_tags)
{
	char a[ST_DIGEST_LEN + 1], b[ST_DIGEST_LEN + 1];
	struct st_error err = {0};
	image("2026-01-01T00:00:00.1Z", "{}", "app:1", a);
	image("2026-01-01T00:00:00.2Z", "{}", NULL, b);
	ST_OK(st_image_set_digest(store, a, "app@" D1, &err), &err);
	ck_assert_int_eq(st_image_set_digest(store, a, "app:2", &err), -EINVAL);
	struct st_image img;
	ST_OK(st_image_get(store, "app@" D1, &img, &err), &err);
	ck_assert_str_eq(img.id, a);
	ck_assert_uint_eq(img.ntags, 1);
	ck_assert_str_eq(img.tags[0], "app:1");
	ck_assert_uint_eq(img.ndigests, 1);
	ck_assert_str_eq(img.digests[0], "app@" D1);
	st_image_free(&img);
	ck_assert_int_eq(st_image_get(store, "app@" D2, &img, &err), -ENOENT);
	ck_assert_str_eq(err.msg, "no such image: app@" D2);
	/* a digest moves to the image it now names, as a tag does */
	ST_OK(st_image_set_digest(store, b, "app@" D1, &err), &err);
	ST_OK(st_image_get(store, "app@" D1, &img, &err), &err);
	ck_assert_str_eq(img.id, b);
	st_image_free(&img);
	/* a tag cannot be a digest */
	ck_assert_int_eq(st_image_tag(store, a, "app@" D2, &err), -EINVAL);
}
END_TEST

START_TEST(test_rmi_of_the_last_tag_takes_the_repository_digests)
{
	char a[ST_DIGEST_LEN + 1];
	struct st_error err = {0};
	image("2026-01-01T00:00:00Z", "{}", "app:1", a);
	ST_OK(st_image_tag(store, a, "other:1", &err), &err);
	ST_OK(st_image_set_digest(store, a, "app@" D1, &err), &err);
	ST_OK(st_image_set_digest(store, a, "other@" D2, &err), &err);
	char **done = NULL;
	size_t nd = 0;
	/* by id: two repositories need force */
	ck_assert_int_eq(st_image_remove(store, a, false, &done, &nd, &err), -EBUSY);
	ck_assert(strstr(err.msg, "must be forced") != NULL);
	ST_OK(st_image_remove(store, "app:1", false, &done, &nd, &err), &err);
	ck_assert_uint_eq(nd, 2);
	ck_assert_str_eq(done[0], "Untagged: app:1");
	ck_assert_str_eq(done[1], "Untagged: app@" D1);
	st_strv_free(done, nd);
	done = NULL;
	nd = 0;
	ck_assert_str_eq(listing((const char *const[]){NULL}), "[other:1,other@sha256]");
	/* a digest alone is untagged; the tag keeps the image */
	ST_OK(st_image_remove(store, "other@" D2, false, &done, &nd, &err), &err);
	ck_assert_uint_eq(nd, 1);
	ck_assert_str_eq(done[0], "Untagged: other@" D2);
	st_strv_free(done, nd);
	done = NULL;
	nd = 0;
	/* the last reference deletes the image */
	ST_OK(st_image_set_digest(store, a, "other@" D1, &err), &err);
	ST_OK(st_image_remove(store, a, false, &done, &nd, &err), &err);
	ck_assert_uint_eq(nd, 3);
	ck_assert(st_str_has_prefix(done[2], "Deleted: sha256:"));
	st_strv_free(done, nd);
	ck_assert_str_eq(listing((const char *const[]){NULL}), "");
}
END_TEST

START_TEST(test_image_filters_as_docker)
{
	char a[ST_DIGEST_LEN + 1], b[ST_DIGEST_LEN + 1], c[ST_DIGEST_LEN + 1], d[ST_DIGEST_LEN + 1];
	struct st_error err = {0};
	/* within one second: the nanoseconds order them */
	image("2026-01-01T00:00:00.100Z", "{\"tier\":\"web\",\"v\":\"1\"}", "web:1", a);
	image("2026-01-01T00:00:00.200Z", "{\"tier\":\"db\"}", "me/db:1", b);
	ST_OK(st_image_tag(store, b, "me/db:2", &err), &err);
	image("2026-01-01T00:00:00.300Z", "{}", NULL, c);
	image("2026-01-01T00:00:00.400Z", "{}", NULL, d);
	ST_OK(st_image_set_digest(store, d, "pulled@" D1, &err), &err);
	ck_assert_str_eq(listing((const char *const[]){NULL}), "[web:1] [me/db:1,me/db:2] [] [pulled@sha256]");
	/* dangling: no tag (a digest alone counts as dangling, as in docker) */
	ck_assert_str_eq(listing((const char *const[]){"dangling=true", NULL}), "[] [pulled@sha256]");
	ck_assert_str_eq(listing((const char *const[]){"dangling=false", NULL}), "[web:1] [me/db:1,me/db:2] [pulled@sha256]");
	ck_assert_str_eq(listing((const char *const[]){"label=tier", NULL}), "[web:1] [me/db:1,me/db:2]");
	ck_assert_str_eq(listing((const char *const[]){"label=tier=web", "label=v", NULL}), "[web:1]");
	ck_assert_str_eq(listing((const char *const[]){"label=tier=db", "label=v", NULL}), "");
	ck_assert_str_eq(listing((const char *const[]){"before=me/db:1", NULL}), "[web:1]");
	ck_assert_str_eq(listing((const char *const[]){"since=me/db:2", NULL}), "[] [pulled@sha256]");
	ck_assert_str_eq(listing((const char *const[]){"since=web:1", "before=pulled@" D1, NULL}), "[me/db:1,me/db:2] []");
	/* reference: globs OR; only matching tags stay */
	ck_assert_str_eq(listing((const char *const[]){"reference=me/db:2", NULL}), "[me/db:2]");
	ck_assert_str_eq(listing((const char *const[]){"reference=*", NULL}), "[web:1] [pulled@sha256]");
	ck_assert_str_eq(listing((const char *const[]){"reference=web", "reference=*/*", NULL}), "[web:1] [me/db:1,me/db:2]");
	ck_assert_str_eq(listing((const char *const[]){"reference=web", "label=tier=db", NULL}), "");
	/* errors name the filter as docker does */
	struct st_kvlist f = {0};
	struct st_image *v;
	size_t n;
	filters(&f, (const char *const[]){"dangling=maybe", NULL});
	ck_assert_int_eq(st_image_list_filtered(store, &f, &v, &n, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "invalid filter 'dangling=[maybe]'");
	st_kvlist_free(&f);
	filters(&f, (const char *const[]){"size=1", NULL});
	ck_assert_int_eq(st_image_list_filtered(store, &f, &v, &n, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "invalid filter 'size'");
	st_kvlist_free(&f);
	filters(&f, (const char *const[]){"before=nothing", NULL});
	ck_assert_int_eq(st_image_list_filtered(store, &f, &v, &n, &err), -ENOENT);
	ck_assert_str_eq(err.msg, "no such image: nothing:latest");
	st_kvlist_free(&f);
}
END_TEST

/* --------------------------------------------------------- volumes */

static char *volumes(const char *const *args)
{
	struct st_kvlist f = {0};
	filters(&f, args);
	struct st_error err = {0};
	struct st_volume *v;
	size_t n;
	ST_OK(st_volume_list_filtered(store, &f, &v, &n, NULL, &err), &err);
	st_kvlist_free(&f);
	static char out[1024];
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t used = strlen(out);
		snprintf(out + used, sizeof(out) - used, "%s%s", i ? " " : "", v[i].name);
	}
	st_volume_list_free(v, n);
	return out;
}

START_TEST(test_volume_labels_are_kept_and_filtered_as_docker)
{
	struct st_error err = {0};
	struct st_kvlist l1 = {0}, l2 = {0};
	ST_OK(st_label_add(&l1, "tier=web", &err), &err);
	ST_OK(st_label_add(&l1, "backup", &err), &err);
	ck_assert_int_eq(st_label_add(&l1, "=x", &err), -EINVAL);
	ST_OK(st_label_add(&l2, "tier=db", &err), &err);
	ST_OK(st_volume_create_labeled(store, NULL, "web-data", NULL, &l1, NULL, &err), &err);
	ST_OK(st_volume_create_labeled(store, NULL, "db-data", NULL, &l2, NULL, &err), &err);
	ST_OK(st_volume_create(store, NULL, "plain", NULL, NULL, &err), &err);
	/* the record keeps them: a new handle on the store reads them back */
	struct st_volume v;
	ST_OK(st_volume_inspect(store, "web-data", &v, &err), &err);
	ck_assert_uint_eq(v.labels.n, 2);
	ck_assert_str_eq(st_kvlist_get(&v.labels, "tier"), "web");
	ck_assert_str_eq(st_kvlist_get(&v.labels, "backup"), "");
	st_volume_free(&v);
	/* creating it again with other labels keeps the first ones (docker's) */
	ST_OK(st_volume_create_labeled(store, NULL, "db-data", NULL, &l1, NULL, &err), &err);
	ST_OK(st_volume_inspect(store, "db-data", &v, &err), &err);
	ck_assert_str_eq(st_kvlist_get(&v.labels, "tier"), "db");
	st_volume_free(&v);
	ck_assert_str_eq(volumes((const char *const[]){NULL}), "db-data plain web-data");
	ck_assert_str_eq(volumes((const char *const[]){"label=tier", NULL}), "db-data web-data");
	ck_assert_str_eq(volumes((const char *const[]){"label=tier=web", "label=backup", NULL}), "web-data");
	ck_assert_str_eq(volumes((const char *const[]){"name=data$", NULL}), "db-data web-data");
	ck_assert_str_eq(volumes((const char *const[]){"name=^p", "name=^d", NULL}), "db-data plain");
	ck_assert_str_eq(volumes((const char *const[]){"name=data", "label=tier=db", NULL}), "db-data");
	ck_assert_str_eq(volumes((const char *const[]){"driver=local", NULL}), "db-data plain web-data");
	ck_assert_str_eq(volumes((const char *const[]){"driver=loc", NULL}), "");
	ck_assert_str_eq(volumes((const char *const[]){"dangling=true", NULL}), "db-data plain web-data");
	char path[4096];
	ST_OK(st_volume_mount(store, "plain", "m1", path, sizeof(path), &err), &err);
	ck_assert_str_eq(volumes((const char *const[]){"dangling=1", NULL}), "db-data web-data");
	ck_assert_str_eq(volumes((const char *const[]){"dangling=false", NULL}), "plain");
	ST_OK(st_volume_unmount(store, "plain", "m1", &err), &err);
	struct st_kvlist f = {0};
	struct st_volume *vv;
	size_t n;
	filters(&f, (const char *const[]){"dangling=maybe", NULL});
	ck_assert_int_eq(st_volume_list_filtered(store, &f, &vv, &n, NULL, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "invalid filter 'dangling=[maybe]'");
	st_kvlist_free(&f);
	filters(&f, (const char *const[]){"scope=local", NULL});
	ck_assert_int_eq(st_volume_list_filtered(store, &f, &vv, &n, NULL, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "invalid filter 'scope'");
	st_kvlist_free(&f);
	st_kvlist_free(&l1);
	st_kvlist_free(&l2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("filters");
	TCase *tc = tcase_create("base");
	tcase_add_test(tc, test_filter_args_are_trimmed_folded_and_kept_once);
	tcase_add_test(tc, test_same_key_ors_and_an_absent_key_matches_everything);
	tcase_add_test(tc, test_label_filters_all_have_to_hold);
	tcase_add_test(tc, test_glob_is_go_path_match_star_stops_at_slash);
	tcase_add_test(tc, test_digest_references_normalise_to_the_familiar_name);
	suite_add_tcase(s, tc);
	TCase *ti = tcase_create("images");
	tcase_add_checked_fixture(ti, setup, teardown);
	tcase_add_test(ti, test_repo_digests_resolve_and_are_listed_apart_from_tags);
	tcase_add_test(ti, test_rmi_of_the_last_tag_takes_the_repository_digests);
	tcase_add_test(ti, test_image_filters_as_docker);
	tcase_add_test(ti, test_volume_labels_are_kept_and_filtered_as_docker);
	suite_add_tcase(s, ti);
	return st_test_main(s);
}
