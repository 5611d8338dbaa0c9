/* core/image/image_refs.c: the index of repositories.json (images/.refs/)
 * that finds an image by name without parsing the whole file. It must give
 * what the file says, whatever a kill or a repair left: an index that is not
 * the file's (its stamp names another file) is never believed, and the next
 * write makes it whole again. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "image/image.h"
#include "testlib.h"

static char *tmp;
static char root[4096];
static struct st_store *store;

static void setup(void)
{
	store = st_test_vfs_store("image-refs", &tmp, root);
}

static void teardown(void)
{
	st_store_close(store);
	st_test_rmtree(tmp);
	free(tmp);
}

static void image(const char *created, char id[ST_DIGEST_LEN + 1])
{
	char cfg[512];
	snprintf(cfg, sizeof(cfg),
		 "{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"%s\","
		 "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
		 created);
	struct st_error err = {0};
	ST_OK(st_image_create(store, cfg, strlen(cfg), id, &err), &err);
}

/* the image ref names, and its tags joined by spaces */
static void get(const char *ref, const char *want_id, const char *want_tags)
{
	struct st_image img;
	struct st_error err = {0};
	ST_OK(st_image_get(store, ref, &img, &err), &err);
	ck_assert_str_eq(img.id, want_id);
	char tags[1024] = "";
	for (size_t i = 0, used = 0; i < img.ntags; i++)
		used += (size_t)snprintf(tags + used, sizeof(tags) - used, "%s%s", i ? " " : "", img.tags[i]);
	ck_assert_str_eq(tags, want_tags);
	st_image_free(&img);
}

START_TEST(test_lookups_by_name_read_the_index_and_follow_tag_and_untag)
{
	char a[ST_DIGEST_LEN + 1], b[ST_DIGEST_LEN + 1];
	image("2026-01-01T00:00:00Z", a);
	image("2026-01-02T00:00:00Z", b);
	struct st_error err = {0};
	ST_OK(st_image_tag(store, a, "web:1", &err), &err);
	ST_OK(st_image_tag(store, a, "reg.io/team/web:2", &err), &err);
	ST_OK(st_image_tag(store, b, "db:1", &err), &err);
	ck_assert(st_test_exists(root, "images/.refs/stamp"));
	get("web:1", a, "web:1 reg.io/team/web:2");
	get("reg.io/team/web:2", a, "web:1 reg.io/team/web:2");
	get(b, b, "db:1");
	/* a tag moved to another image, an untag */
	ST_OK(st_image_tag(store, b, "web:1", &err), &err);
	get("web:1", b, "web:1 db:1");
	get(a, a, "reg.io/team/web:2");
	char **done = NULL;
	size_t ndone = 0;
	ST_OK(st_image_remove(store, "db:1", false, &done, &ndone, &err), &err);
	st_strv_free(done, ndone);
	get("web:1", b, "web:1");
	struct st_image img;
	ck_assert_int_eq(st_image_get(store, "db:1", &img, &err), -ENOENT);
	ck_assert_str_eq(err.msg, "no such image: db:1");
}
END_TEST

START_TEST(test_a_file_written_behind_the_index_is_believed_and_the_next_write_rebuilds_it)
{
	char a[ST_DIGEST_LEN + 1], b[ST_DIGEST_LEN + 1];
	image("2026-01-01T00:00:00Z", a);
	image("2026-01-02T00:00:00Z", b);
	struct st_error err = {0};
	ST_OK(st_image_tag(store, a, "web:1", &err), &err);
	ST_OK(st_image_tag(store, a, "old:1", &err), &err);
	/* as system check --repair or a kill after the file's rename leave it:
	 * repositories.json says web:1 is b, the index still says a */
	char text[512];
	snprintf(text, sizeof(text), "{\"web:1\": \"%s\"}", b);
	ck_assert_int_eq(st_test_sh("printf '%%s' '%s' > '%s/repositories.json.new' && mv '%s/repositories.json.new' '%s/repositories.json'",
				    text, root, root, root),
			 0);
	get("web:1", b, "web:1");
	struct st_image img;
	ck_assert_int_eq(st_image_get(store, "old:1", &img, &err), -ENOENT);
	get(a, a, "");
	/* the next write rebuilds the index whole: old:1's entry is gone */
	ST_OK(st_image_tag(store, a, "new:1", &err), &err);
	ck_assert_int_eq(st_test_sh("test $(ls '%s/images/.refs' | wc -l) = 5", root), 0); /* 2 refs, 2 images, stamp */
	get("new:1", a, "new:1");
	get("web:1", b, "web:1");
	ck_assert_int_eq(st_image_get(store, "old:1", &img, &err), -ENOENT);
}
END_TEST

START_TEST(test_damaged_entries_under_a_stale_stamp_are_never_read)
{
	char a[ST_DIGEST_LEN + 1], b[ST_DIGEST_LEN + 1];
	image("2026-01-01T00:00:00Z", a);
	image("2026-01-02T00:00:00Z", b);
	struct st_error err = {0};
	ST_OK(st_image_tag(store, a, "web:1", &err), &err);
	/* a kill while the entries were being rewritten, before the stamp: every
	 * entry pointing at the wrong image, and a stamp of another file */
	ck_assert_int_eq(st_test_sh("cd '%s/images/.refs' && for l in $(find . -type l); do ln -sfn %s $l; done && "
				    "echo 1 2 3 4 > stamp",
				    root, b + 7),
			 0);
	get("web:1", a, "web:1");
	/* and a stamp of the file there now makes the index believed again,
	 * which is why a writer syncs the entries before it writes the stamp */
	ST_OK(st_image_tag(store, b, "db:1", &err), &err);
	get("web:1", a, "web:1");
	get("db:1", b, "db:1");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("image_refs");
	TCase *tc = tcase_create("index");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_lookups_by_name_read_the_index_and_follow_tag_and_untag);
	tcase_add_test(tc, test_a_file_written_behind_the_index_is_believed_and_the_next_write_rebuilds_it);
	tcase_add_test(tc, test_damaged_entries_under_a_stale_stamp_are_never_read);
	suite_add_tcase(s, tc);
	return st_test_main(s);
}
