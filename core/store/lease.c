/* Leases: claims of running operations, released by process death. This
 * file: making a lease, its claims and the questions asked about them; its
 * end and the sweep of dead ones are lease_end.c. */
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "base/base.h"
#include "store/store.h"
#include "store_int.h"

static int lease_save(struct st_lease *l, struct st_error *err)
{
	_cleanup_close_ int dfd = st_store_subdir(l->s, "leases", err);
	if (dfd < 0)
		return dfd;
	_cleanup_json_ json_object *o = json_object_new_object();
	json_object *a = json_object_new_array(), *b = json_object_new_array();
	for (size_t i = 0; i < l->nlayers; i++)
		json_object_array_add(a, json_object_new_string(l->layers[i]));
	for (size_t i = 0; i < l->ndriver_layers; i++)
		json_object_array_add(b, json_object_new_string(l->driver_layers[i]));
	json_object_object_add(o, "layers", a);
	json_object_object_add(o, "driver_layers", b);
	char name[64];
	snprintf(name, sizeof(name), "%s.json", l->name);
	return st_json_save_at(dfd, name, o, err);
}

/* Lease names are random; a lock file that a sweeping process unlinked
 * between our open and our flock would leave us holding a lock nobody can
 * see, so the lock must still be the file of that name once we hold it. */
static int lease_lock_new(int dfd, struct st_lease *l, struct st_error *err)
{
	for (int tries = 0; tries < 8; tries++) {
		int r = st_random_hex(l->name, 16);
		if (r < 0)
			return st_error_set(err, -r, "lease");
		char lk[64];
		snprintf(lk, sizeof(lk), "%s.lock", l->name);
		/* our own new file (a random name: taken only by chance), then
		 * its lock: a check may try it in between, for an instant */
		int fd = openat(dfd, lk, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0 && errno == EEXIST)
			continue;
		if (fd < 0)
			return st_error_set(err, errno, "lease: create \"%s/leases/%s\"", l->s->root, lk);
		while (flock(fd, LOCK_EX) < 0) {
			if (errno != EINTR) {
				r = st_error_set(err, errno, "lease: lock \"%s/leases/%s\"", l->s->root, lk);
				close(fd);
				unlinkat(dfd, lk, 0);
				return r;
			}
		}
		/* a sweep that found it unlocked may have taken the name away */
		struct stat a, b;
		if (fstat(fd, &a) == 0 && fstatat(dfd, lk, &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_ino == b.st_ino &&
		    a.st_dev == b.st_dev) {
			l->lock_fd = fd;
			return 0;
		}
		st_unlock(&fd);
	}
	return st_error_fail(err, EBUSY, "store busy: could not take a lease in \"%s/leases\"", l->s->root);
}

int st_lease_new(struct st_store *s, struct st_lease *l, struct st_error *err)
{
	memset(l, 0, sizeof(*l));
	l->s = s;
	l->lock_fd = -1;
	_cleanup_close_ int dfd = st_store_subdir(s, "leases", err);
	if (dfd < 0)
		return dfd;
	int r = lease_lock_new(dfd, l, err);
	return r < 0 ? r : lease_save(l, err);
}

int st_lease_add_layer(struct st_lease *l, const char *chain_id, struct st_error *err)
{
	if (st_strv_push(&l->layers, &l->nlayers, chain_id) < 0)
		return st_error_set(err, ENOMEM, "lease");
	return lease_save(l, err);
}

int st_lease_add_driver_layer(struct st_lease *l, const char *id, struct st_error *err)
{
	if (st_strv_push(&l->driver_layers, &l->ndriver_layers, id) < 0)
		return st_error_set(err, ENOMEM, "lease");
	return lease_save(l, err);
}

int st_lease_drop_driver_layer(struct st_lease *l, const char *id, struct st_error *err)
{
	for (size_t i = 0; i < l->ndriver_layers; i++) {
		if (strcmp(l->driver_layers[i], id) != 0)
			continue;
		free(l->driver_layers[i]);
		memmove(&l->driver_layers[i], &l->driver_layers[i + 1],
			(l->ndriver_layers - i) * sizeof(char *));
		l->ndriver_layers--;
		return lease_save(l, err);
	}
	return 0;
}

void lease_files_remove(int dfd, const char *name)
{
	char p[64];
	snprintf(p, sizeof(p), "%s.json", name);
	unlinkat(dfd, p, 0);
	snprintf(p, sizeof(p), "%s.lock", name);
	unlinkat(dfd, p, 0);
}

void st_lease_holder(const struct st_lease *l, char *buf, size_t len)
{
	snprintf(buf, len, "lease:%s", l->name);
}

/* Calls fn for each lease; alive tells whether its process still holds it. */
int lease_each(struct st_store *s, int (*fn)(void *, int dfd, const char *name, bool alive, json_object *o),
		      void *ctx, struct st_error *err)
{
	_cleanup_close_ int dfd = st_store_subdir(s, "leases", err);
	if (dfd < 0)
		return dfd;
	char **names;
	size_t n;
	int r = st_list_dir(dfd, &names, &n);
	if (r < 0)
		return st_error_set(err, -r, "list leases");
	for (size_t i = 0; i < n && r == 0; i++) {
		if (!st_str_has_suffix(names[i], ".lock"))
			continue;
		char name[64], js[80];
		snprintf(name, sizeof(name), "%.*s", (int)(strlen(names[i]) - 5), names[i]);
		snprintf(js, sizeof(js), "%s.json", name);
		struct st_error e;
		int lfd = st_trylock_at(dfd, names[i], LOCK_EX, &e);
		bool alive = lfd == -EWOULDBLOCK;
		json_object *o = NULL;
		if (st_json_load_at(dfd, js, &o, &e) < 0)
			o = NULL;
		r = fn(ctx, dfd, name, alive, o);
		if (o)
			json_object_put(o);
		if (lfd >= 0)
			st_unlock(&lfd);
	}
	st_strv_free(names, n);
	return r;
}

struct holds_ctx {
	const char *chain;
	const char *key; /* "layers" or "driver_layers" */
};

static int holds_fn(void *ctx, int dfd, const char *name, bool alive, json_object *o)
{
	(void)dfd;
	(void)name;
	struct holds_ctx *h = ctx;
	json_object *a;
	if (!alive || !o || !json_object_object_get_ex(o, h->key, &a) || !json_object_is_type(a, json_type_array))
		return 0;
	for (size_t i = 0; i < json_object_array_length(a); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(a, i)), h->chain) == 0)
			return 1;
	return 0;
}

bool st_lease_holds(struct st_store *s, const char *chain_id)
{
	struct holds_ctx h = {chain_id, "layers"};
	struct st_error e;
	return lease_each(s, holds_fn, &h, &e) > 0;
}

bool st_lease_claims_driver_layer(struct st_store *s, const char *id)
{
	struct holds_ctx h = {id, "driver_layers"};
	struct st_error e;
	return lease_each(s, holds_fn, &h, &e) > 0;
}

bool st_lease_alive(struct st_store *s, const char *name)
{
	struct st_error e;
	if (strlen(name) > 40 || strchr(name, '/') || name[0] == '.')
		return false;
	_cleanup_close_ int dfd = st_store_subdir(s, "leases", &e);
	if (dfd < 0)
		return false;
	char lk[64];
	snprintf(lk, sizeof(lk), "%s.lock", name);
	struct stat st;
	if (fstatat(dfd, lk, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	int fd = st_trylock_at(dfd, lk, LOCK_EX, &e);
	if (fd >= 0) {
		st_unlock(&fd);
		/* made an instant ago and not locked yet (its claims file comes
		 * right after the lock): an operation starting, not a dead one */
		char js[64];
		snprintf(js, sizeof(js), "%s.json", name);
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		struct stat jst;
		return fstatat(dfd, js, &jst, AT_SYMLINK_NOFOLLOW) < 0 && now.tv_sec - st.st_mtim.tv_sec < 5 &&
		       now.tv_sec >= st.st_mtim.tv_sec;
	}
	return fd == -EWOULDBLOCK;
}

static int count_fn(void *ctx, int dfd, const char *name, bool alive, json_object *o)
{
	(void)dfd;
	(void)name;
	(void)o;
	*(int *)ctx += alive;
	return 0;
}

int st_lease_count_alive(struct st_store *s)
{
	int n = 0;
	struct st_error e;
	lease_each(s, count_fn, &n, &e);
	return n;
}

void st_lease_scratch(const struct st_lease *l, const char *tag, char *buf, size_t len)
{
	snprintf(buf, len, "%s/tmp/%s-%s", l->s->root, l->name, tag);
}

/* Scratch directories a lease's process made under <root>/tmp are named
 * "<lease>-...": they go with the lease. */
static bool lease_holds_layer(struct st_store *s, const char *name, const char *chain_id, char *why, size_t len)
{
	if (st_lease_alive(s, name))
		return true;
	snprintf(why, len, "belongs to an operation that is no longer running");
	return false;
}

const struct st_holder_kind st_lease_holders = {
	.prefix = "lease",
	.holds_layer = lease_holds_layer,
};
