/* The container store.
 *
 *   containers/<id>/config.json   what create decided (image, command, mounts, layers)
 *   containers/<id>/state.json    created | running (pid) | exited (code), written atomically
 *   containers/<id>/container.log stdout/stderr records (JSON lines)
 *   containers/<id>/{hosts,hostname,resolv.conf}  bind-mounted over the init layer's files
 *
 * Driver layers: "<id>-init" (mount points and placeholders, on the image's
 * top layer) and "<id>" (the container layer) on top of it. A container
 * holds its image's top layer with holder "container:<id>".
 *
 * Names: containers/.names/<name> -> id (container_names.c).
 *
 * This file: records, lookups and claims. Create, run (start and stop),
 * remove, and changes/commit/export/logs are container_*.c. */
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include "base/base.h"
#include "archive/archive.h"
#include "store/store.h"
#include "image/image.h"
#include "container/container.h"
#include "container_int.h"

void st_container_free(struct st_container *c)
{
	if (c) {
		free(c->command);
		c->command = NULL;
		st_kvlist_free(&c->labels);
	}
}

void st_container_list_free(struct st_container *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		st_container_free(&v[i]);
	free(v);
}

int ct_dir(struct st_store *s, struct st_error *err)
{
	return st_store_subdir(s, "containers", err);
}

/* ----------------------------------------------------------- records */

int ct_load_json(struct st_store *s, const char *id, const char *file, json_object **o, struct st_error *err)
{
	_cleanup_close_ int dfd = ct_dir(s, err);
	if (dfd < 0)
		return dfd;
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", id, file);
	return st_json_load_at(dfd, p, o, err);
}

int ct_save_json(struct st_store *s, const char *id, const char *file, json_object *o, struct st_error *err)
{
	_cleanup_close_ int dfd = ct_dir(s, err);
	if (dfd < 0)
		return dfd;
	_cleanup_close_ int cfd = st_open_nofollow(dfd, id, O_RDONLY | O_DIRECTORY, 0);
	if (cfd < 0)
		return st_error_set(err, -cfd, "container %s", id);
	return st_json_save_at(cfd, file, o, err);
}

static void fill_state(struct st_container *c, json_object *st)
{
	const char *status = st_json_str(st, "Status");
	c->pid = (pid_t)st_json_int(st, "Pid");
	c->exit_code = (int)st_json_int(st, "ExitCode");
	c->started_at = st_json_int(st, "StartedAt");
	c->finished_at = st_json_int(st, "FinishedAt");
	if (!strcmp(status, "running")) {
		/* a process that died while nobody watched is exited */
		if (c->pid > 0 && st_proc_start(c->pid) == st_json_int(st, "PidStart")) {
			c->status = ST_CT_RUNNING;
		} else {
			c->status = ST_CT_EXITED;
			c->exit_code = 255;
			c->pid = 0;
		}
	} else {
		c->status = !strcmp(status, "exited") ? ST_CT_EXITED : ST_CT_CREATED;
	}
}

int ct_fill(struct st_store *s, const char *id, struct st_container *c, struct st_error *err)
{
	memset(c, 0, sizeof(*c));
	_cleanup_json_ json_object *cfg = NULL, *st = NULL;
	int r = ct_load_json(s, id, "config.json", &cfg, err);
	if (r < 0)
		return r;
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->name, sizeof(c->name), "%s", st_json_str(cfg, "Name"));
	snprintf(c->image, sizeof(c->image), "%s", st_json_str(cfg, "Image"));
	snprintf(c->image_ref, sizeof(c->image_ref), "%s", st_json_str(cfg, "ImageRef"));
	snprintf(c->rw_layer, sizeof(c->rw_layer), "%s", st_json_str(cfg, "RWLayer"));
	snprintf(c->init_layer, sizeof(c->init_layer), "%s", st_json_str(cfg, "InitLayer"));
	c->created = st_json_int(cfg, "Created");
	json_object *args;
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "%s", st_json_str(cfg, "Path"));
	if (json_object_object_get_ex(cfg, "Args", &args))
		for (size_t i = 0; i < json_object_array_length(args); i++)
			snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), " %s",
				 json_object_get_string(json_object_array_get_idx(args, i)));
	c->command = strdup(cmd);
	json_object *cc, *labels;
	if (json_object_object_get_ex(cfg, "Config", &cc) && json_object_object_get_ex(cc, "Labels", &labels) &&
	    json_object_is_type(labels, json_type_object)) {
		json_object_object_foreach(labels, k, v)
		{
			st_kvlist_add(&c->labels, k, "%s", json_object_get_string(v));
		}
	}
	struct st_error e2;
	if (ct_load_json(s, id, "state.json", &st, &e2) == 0)
		fill_state(c, st);
	return 0;
}

/* by_id: a full id or a unique prefix of 3+ characters also resolves (a
 * name check compares names only: "c96" is a free name even when an id
 * starts with c96, as in docker). A full id, then a name, then a prefix. */
static int resolve(struct st_store *s, const char *ref, bool by_id, char id[65], struct st_error *err)
{
	if (!ref || !*ref)
		return st_error_fail(err, EINVAL, "empty container reference");
	_cleanup_close_ int dfd = ct_dir(s, err);
	if (dfd < 0)
		return dfd;
	struct stat st;
	if (by_id && st_valid_id(ref) && fstatat(dfd, ref, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		snprintf(id, 65, "%s", ref);
		return 0;
	}
	int r = ref[0] == '.' || strchr(ref, '/') ? -ENOENT : ct_name_find(dfd, ref, id);
	if (r != -ENOENT)
		return r < 0 ? st_error_set(err, -r, "find container %s", ref) : 0;
	size_t hits = 0, len = strlen(ref);
	if (by_id && len >= 3 && strspn(ref, "0123456789abcdef") == len) {
		char **names;
		size_t n;
		if ((r = st_list_dir(dfd, &names, &n)) < 0)
			return st_error_set(err, -r, "list containers");
		for (size_t i = 0; i < n && hits < 2; i++)
			if (names[i][0] != '.' && strncmp(names[i], ref, len) == 0 && hits++ == 0)
				snprintf(id, 65, "%s", names[i]);
		st_strv_free(names, n);
	}
	if (hits == 0)
		return st_error_fail(err, ENOENT, "no such container: %s", ref);
	if (hits > 1)
		return st_error_fail(err, EINVAL, "container id prefix \"%s\" is ambiguous", ref);
	return 0;
}

int ct_resolve(struct st_store *s, const char *ref, char id[65], struct st_error *err)
{
	return resolve(s, ref, true, id, err);
}

int st_container_get(struct st_store *s, const char *ref, struct st_container *out, struct st_error *err)
{
	char id[65];
	int r = ct_resolve(s, ref, id, err);
	return r < 0 ? r : ct_fill(s, id, out, err);
}

int st_container_list(struct st_store *s, struct st_container **out, size_t *n, struct st_error *err)
{
	*out = NULL;
	*n = 0;
	_cleanup_close_ int dfd = ct_dir(s, err);
	if (dfd < 0)
		return dfd;
	char **names;
	size_t nn;
	int r = st_list_dir(dfd, &names, &nn);
	if (r < 0)
		return st_error_set(err, -r, "list containers");
	struct st_container *v = calloc(nn ? nn : 1, sizeof(*v));
	if (!v) {
		st_strv_free(names, nn);
		return st_error_set(err, ENOMEM, "list containers");
	}
	for (size_t i = 0; i < nn; i++) {
		struct st_error e2;
		if (names[i][0] != '.' && ct_fill(s, names[i], &v[*n], &e2) == 0)
			(*n)++;
	}
	st_strv_free(names, nn);
	*out = v;
	return 0;
}

int st_containers_using_image(struct st_store *s, const char *image_id, char **first)
{
	*first = NULL;
	struct st_container *v;
	size_t n;
	struct st_error e;
	if (st_container_list(s, &v, &n, &e) < 0)
		return 0;
	int count = 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].image, image_id) == 0 && count++ == 0)
			*first = strdup(v[i].name[0] ? v[i].name : v[i].id);
	st_container_list_free(v, n);
	return count;
}

int st_containers_using_volume(struct st_store *s, const char *name, char **first)
{
	*first = NULL;
	struct st_error e;
	_cleanup_close_ int dfd = ct_dir(s, &e);
	char **names;
	size_t n;
	if (dfd < 0 || st_list_dir(dfd, &names, &n) < 0)
		return 0;
	int count = 0;
	for (size_t i = 0; i < n; i++) {
		if (names[i][0] == '.')
			continue;
		_cleanup_json_ json_object *cfg = NULL;
		json_object *mounts;
		if (ct_load_json(s, names[i], "config.json", &cfg, &e) < 0 || !json_object_object_get_ex(cfg, "Mounts", &mounts))
			continue;
		bool uses = false;
		for (size_t k = 0; k < json_object_array_length(mounts) && !uses; k++) {
			json_object *m = json_object_array_get_idx(mounts, k);
			uses = !strcmp(st_json_str(m, "Type"), "volume") && !strcmp(st_json_str(m, "Name"), name);
		}
		if (uses && count++ == 0) {
			const char *cn = st_json_str(cfg, "Name");
			*first = strdup(cn[0] ? cn : names[i]);
		}
	}
	st_strv_free(names, n);
	return count;
}

bool st_container_owns_driver_layer(struct st_store *s, const char *id)
{
	char cid[80];
	if (!st_valid_id(id) || strlen(id) >= sizeof(cid))
		return false;
	snprintf(cid, sizeof(cid), "%s", id);
	if (st_str_has_suffix(cid, "-init"))
		cid[strlen(cid) - 5] = '\0';
	if (!cid[0] || cid[0] == '.')
		return false;
	_cleanup_json_ json_object *cfg = NULL;
	struct st_error e;
	if (ct_load_json(s, cid, "config.json", &cfg, &e) < 0)
		return false;
	return !strcmp(st_json_str(cfg, "RWLayer"), id) || !strcmp(st_json_str(cfg, "InitLayer"), id);
}

bool ct_name_taken(struct st_store *s, const char *name)
{
	char id[65];
	struct st_error e;
	return resolve(s, name, false, id, &e) == 0;
}

/* ------------------------------------------------------------- claims */

/* An operation on a container (start, commit, rm) claims its container
 * layer under a lease, under the store lock and with the container still
 * there: rm and prune leave a claimed container alone, and a second start
 * or rm is refused meanwhile. A sweep never removes the layer of a
 * container that exists, so a killed start or commit takes nothing. */
int ct_claim(struct st_store *s, const struct st_container *c, struct st_lease *l, double wait_s,
	     struct st_error *err)
{
	int r = st_lease_new(s, l, err);
	if (r < 0)
		return r;
	double end = st_now() + wait_s;
	for (;;) {
		if ((r = st_store_lock(s, err)) < 0)
			break;
		_cleanup_close_ int dfd = ct_dir(s, err);
		struct stat st;
		bool busy = false;
		if (dfd < 0)
			r = dfd;
		else if (fstatat(dfd, c->id, &st, AT_SYMLINK_NOFOLLOW) < 0)
			r = st_error_fail(err, ENOENT, "no such container: %s", c->name);
		else if ((busy = st_lease_claims_driver_layer(s, c->rw_layer)))
			r = st_error_fail(err, EBUSY, "container %s is in use by another operation (start, commit or rm)",
					  c->name);
		else
			r = st_lease_add_driver_layer(l, c->rw_layer, err);
		st_store_unlock(s);
		if (!busy || st_now() > end)
			break;
		struct timespec ts = {0, 50000000};
		nanosleep(&ts, NULL);
	}
	if (r < 0)
		st_lease_end(l);
	return r;
}

void ct_volumes_unmount(struct st_store *s, const char *id, json_object *cfg)
{
	json_object *mounts;
	if (!cfg || !json_object_object_get_ex(cfg, "Mounts", &mounts))
		return;
	for (size_t i = 0; i < json_object_array_length(mounts); i++) {
		json_object *m = json_object_array_get_idx(mounts, i);
		struct st_error e2;
		if (!strcmp(st_json_str(m, "Type"), "volume"))
			st_volume_unmount(s, st_json_str(m, "Name"), id, &e2);
	}
}
