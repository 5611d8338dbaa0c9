/* An index of repositories.json, so that finding an image by name, or the
 * references of one image, does not parse the whole file:
 *
 *   images/.refs/<sha256 of "name:tag">  symlink -> the image's hex id
 *   images/.refs/img-<hex>               the image's references, a JSON array
 *   images/.refs/stamp                   the repositories.json it indexes:
 *                                        "inode size mtime-ns ctime-ns"
 *
 * repositories.json stays the truth; the index counts only while its stamp
 * names the file that is there now. A writer (under the store lock) renames
 * the new repositories.json in place first, then brings the entries it
 * changed up to date (synced), then writes the stamp: a kill in between
 * leaves a stamp of an older file, so readers parse the file as before and
 * the next writer rebuilds the index whole. A reader takes the stamp, the
 * file's identity, its entries, and the stamp again: an entry read while a
 * writer works is the old file's or the new one's, each the truth of a
 * moment during the lookup. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "store/store.h"
#include "image/image.h"
#include "image_int.h"

#define REFS "images/.refs"

static int file_stamp(struct st_store *s, char out[96])
{
	struct stat st;
	if (fstatat(s->root_fd, "repositories.json", &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	snprintf(out, 96, "%llu %lld %lld %lld", (unsigned long long)st.st_ino, (long long)st.st_size,
		 (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec,
		 (long long)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec);
	return 0;
}

static bool stamp_is(int nfd, const char *want)
{
	char buf[96];
	int fd = openat(nfd, "stamp", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	ssize_t l = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (l <= 0)
		return false;
	buf[l] = '\0';
	return strcmp(buf, want) == 0;
}

static void ref_key(const char *ref, char key[ST_DIGEST_LEN + 1])
{
	st_sha256_buf(ref, strlen(ref), key);
}

/* the references of image hex: a JSON array (empty when it has none) */
static json_object *own_refs(int nfd, const char *hex)
{
	char p[80], *text = NULL;
	size_t len;
	struct st_error e;
	snprintf(p, sizeof(p), "img-%s", hex);
	json_object *o = NULL;
	if (st_read_file_at(nfd, p, &text, &len, &e) == 0 && st_json_parse(text, p, &o, &e) == 0 &&
	    !json_object_is_type(o, json_type_array)) {
		json_object_put(o);
		o = NULL;
	}
	free(text);
	return o ? o : json_object_new_array();
}

int img_refs_lookup(struct st_store *s, const char *norm, char hex[65], json_object **own)
{
	char stamp[96];
	int r = file_stamp(s, stamp);
	if (r < 0)
		return -ESTALE;
	_cleanup_close_ int nfd = openat(s->root_fd, REFS, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (nfd < 0 || !stamp_is(nfd, stamp))
		return -ESTALE;
	r = 0;
	if (norm) {
		char key[ST_DIGEST_LEN + 1], buf[72];
		ref_key(norm, key);
		ssize_t l = readlinkat(nfd, key + 7, buf, sizeof(buf) - 1);
		if (l < 0 && errno == ENOENT)
			r = -ENOENT;
		else if (l != 64)
			return -ESTALE;
		else
			memcpy(hex, buf, 64), hex[64] = '\0';
	}
	*own = r == 0 ? own_refs(nfd, hex) : NULL;
	if (!stamp_is(nfd, stamp)) {
		json_object_put(*own);
		*own = NULL;
		return -ESTALE;
	}
	return r;
}

/* ---------------------------------------------------------- writing */

/* image hex's entry: its references in repos (the file gone when none) */
static int put_own(int nfd, const char *hex, json_object *repos, bool sync, struct st_error *err)
{
	char p[80], id[ST_DIGEST_LEN + 1];
	snprintf(p, sizeof(p), "img-%s", hex);
	snprintf(id, sizeof(id), "sha256:%s", hex);
	_cleanup_json_ json_object *a = json_object_new_array();
	json_object_object_foreach(repos, ref, v)
	if (strcmp(json_object_get_string(v), id) == 0)
		json_object_array_add(a, json_object_new_string(ref));
	if (!json_object_array_length(a))
		return unlinkat(nfd, p, 0) < 0 && errno != ENOENT ? st_error_set(err, errno, "drop " REFS "/%s", p) : 0;
	const char *text = json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN);
	return sync ? st_atomic_write_at(nfd, p, text, strlen(text), 0600, err)
		    : st_replace_file_at(nfd, p, text, strlen(text), 0600, err);
}

/* a reference's link: to its image, or gone */
static int put_ref(int nfd, const char *ref, json_object *v)
{
	char key[ST_DIGEST_LEN + 1];
	ref_key(ref, key);
	const char *id = v ? json_object_get_string(v) : NULL;
	if (id && st_valid_digest(id))
		return st_symlink_replace_at(nfd, key + 7, id + 7);
	return unlinkat(nfd, key + 7, 0) < 0 && errno != ENOENT ? -errno : 0;
}

/* every entry anew, what no reference names dropped */
static int rebuild(int nfd, json_object *repos, struct st_error *err)
{
	char **names;
	size_t n;
	int r = st_list_dir(nfd, &names, &n);
	if (r < 0)
		return st_error_set(err, -r, "list %s", REFS);
	for (size_t i = 0; i < n; i++)
		unlinkat(nfd, names[i], 0);
	st_strv_free(names, n);
	json_object_object_foreach(repos, ref, v)
	{
		const char *id = json_object_get_string(v);
		char p[80];
		snprintf(p, sizeof(p), "img-%s", st_valid_digest(id) ? id + 7 : "");
		if ((r = put_ref(nfd, ref, v)) < 0)
			return st_error_set(err, -r, "index %s in %s", ref, REFS);
		if (st_valid_digest(id) && faccessat(nfd, p, F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
		    (r = put_own(nfd, id + 7, repos, false, err)) < 0)
			return r;
	}
	if (syncfs(nfd) < 0)
		return st_error_set(err, errno, "sync %s", REFS);
	return 0;
}

static void touched(json_object *from, json_object *to, char ***ids, size_t *n)
{
	json_object_object_foreach(from, ref, v)
	{
		json_object *w;
		const char *id = json_object_get_string(v);
		if ((!json_object_object_get_ex(to, ref, &w) || strcmp(json_object_get_string(w), id) != 0) &&
		    st_valid_digest(id)) {
			bool seen = false;
			for (size_t i = 0; i < *n && !seen; i++)
				seen = strcmp((*ids)[i], id + 7) == 0;
			if (!seen)
				st_strv_push(ids, n, id + 7);
		}
	}
}

int img_refs_update(struct st_store *s, json_object *old, json_object *repos, bool was_current, struct st_error *err)
{
	if (mkdirat(s->root_fd, REFS, 0700) < 0 && errno != EEXIST)
		return st_error_set(err, errno, "create %s", REFS);
	_cleanup_close_ int nfd = openat(s->root_fd, REFS, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (nfd < 0)
		return st_error_set(err, errno, "open %s", REFS);
	int r;
	if (!was_current || !old) {
		if ((r = rebuild(nfd, repos, err)) < 0)
			return r;
	} else {
		char **ids = NULL;
		size_t n = 0;
		touched(old, repos, &ids, &n);
		touched(repos, old, &ids, &n);
		r = 0;
		json_object_object_foreach(repos, ref, v)
		{
			json_object *w;
			if (r >= 0 && (!json_object_object_get_ex(old, ref, &w) ||
				       strcmp(json_object_get_string(w), json_object_get_string(v)) != 0))
				r = put_ref(nfd, ref, v) < 0 ? st_error_set(err, errno, "index %s in %s", ref, REFS) : 0;
		}
		json_object_object_foreach(old, oref, ov)
		{
			(void)ov;
			json_object *w;
			if (r >= 0 && !json_object_object_get_ex(repos, oref, &w))
				r = put_ref(nfd, oref, NULL) < 0 ? st_error_set(err, errno, "drop %s from %s", oref, REFS) : 0;
		}
		for (size_t i = 0; i < n && r >= 0; i++)
			r = put_own(nfd, ids[i], repos, true, err);
		st_strv_free(ids, n);
		if (r < 0)
			return r;
		if ((r = st_fsync_dir(nfd)) < 0)
			return st_error_set(err, -r, "sync %s", REFS);
	}
	char stamp[96];
	if ((r = file_stamp(s, stamp)) < 0)
		return st_error_set(err, -r, "stat %s/repositories.json", s->root);
	return st_atomic_write_at(nfd, "stamp", stamp, strlen(stamp), 0600, err);
}

bool img_refs_current(struct st_store *s)
{
	char stamp[96];
	if (file_stamp(s, stamp) < 0)
		return false;
	_cleanup_close_ int nfd = openat(s->root_fd, REFS, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	return nfd >= 0 && stamp_is(nfd, stamp);
}
