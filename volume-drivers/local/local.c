/* local: Docker's local volume driver. A volume is <root>/volumes/NAME/_data,
 * a plain directory, or with -o type=T -o device=D [-o o=OPTS] a mount of
 * anything the kernel mounts (tmpfs, a bind, nfs, an ext4 device) made at
 * _data on first use. -o size= is a tmpfs size, or a project quota where
 * the backing filesystem keeps them. The options live in NAME/opts.json.
 *
 * Docker's validation rules: type and device go together, o needs both,
 * unknown keys are refused (by the core, from local_options). */
#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include "base/base.h"
#include "local.h"
#include "vd_mount.h"

static const char *const local_options[] = {"type", "device", "o", "size", NULL};

/* Mounts of local things finish quickly; network ones get longer. */
#define LOCAL_MOUNT_TIMEOUT 60.0

struct local_opts {
	char type[64];
	char device[PATH_MAX];
	char o[1024];
	int64_t size;
};

static bool local_is_net(const char *type)
{
	return strcmp(type, "nfs") == 0 || strcmp(type, "nfs4") == 0 || strcmp(type, "cifs") == 0 ||
	       strcmp(type, "smb3") == 0;
}

static int local_parse(const char *name, const struct st_kvlist *kv, struct local_opts *lo, struct st_error *err)
{
	memset(lo, 0, sizeof(*lo));
	const char *type = st_kvlist_get(kv, "type"), *device = st_kvlist_get(kv, "device");
	const char *o = st_kvlist_get(kv, "o"), *size = st_kvlist_get(kv, "size");
	/* Docker's mandatory pairs, with Docker's words */
	if (device && !type)
		return st_error_fail(err, EINVAL, "local: volume \"%s\": missing required option: \"type\"", name);
	if (type && !device)
		return st_error_fail(err, EINVAL, "local: volume \"%s\": missing required option: \"device\"", name);
	if (o && (!type || !device))
		return st_error_fail(err, EINVAL, "local: volume \"%s\": missing required option: \"%s\"", name,
				     !device ? "device" : "type");
	if (type) {
		bool ok = *type != '\0';
		for (const char *p = type; *p && ok; p++)
			ok = isalnum((unsigned char)*p) || *p == '.' || *p == '_' || *p == '-';
		if (!ok || strlen(type) >= sizeof(lo->type))
			return st_error_fail(err, EINVAL, "local: volume \"%s\": invalid type \"%s\"", name, type);
		if (!*device || strlen(device) >= sizeof(lo->device) || strchr(device, '\n'))
			return st_error_fail(err, EINVAL, "local: volume \"%s\": invalid device \"%s\"", name, device);
		snprintf(lo->type, sizeof(lo->type), "%s", type);
		snprintf(lo->device, sizeof(lo->device), "%s", device);
	}
	if (o) {
		if (strlen(o) >= sizeof(lo->o) || strchr(o, '\n'))
			return st_error_fail(err, EINVAL, "local: volume \"%s\": invalid o \"%s\"", name, o);
		snprintf(lo->o, sizeof(lo->o), "%s", o);
		/* a bind of a relative path would depend on strata's cwd */
		char copy[1024];
		snprintf(copy, sizeof(copy), ",%s,", o);
		if ((strstr(copy, ",bind,") || strstr(copy, ",rbind,")) && device[0] != '/')
			return st_error_fail(err, EINVAL, "local: volume \"%s\": a bind needs an absolute device path, not \"%s\"",
					     name, device);
	}
	if (size) {
		if (st_parse_size(size, &lo->size) < 0 || lo->size <= 0)
			return st_error_fail(err, EINVAL, "local: volume \"%s\": invalid size \"%s\"", name, size);
		if (type && strcmp(type, "tmpfs") != 0)
			return st_error_fail(err, EINVAL,
					     "local: volume \"%s\": size applies to type=tmpfs or to directory volumes, not type=%s",
					     name, type);
	}
	return 0;
}

static int local_load(struct st_volume_driver *vd, const char *name, struct local_opts *lo, struct st_error *err)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/opts.json", name);
	_cleanup_close_ int dfd = st_open_nofollow(vd->home_fd, name, O_RDONLY | O_DIRECTORY, 0);
	if (dfd < 0)
		return dfd == -ENOENT ? st_error_fail(err, ENOENT, "local: no such volume: %s", name)
				      : st_error_set(err, -dfd, "local: open \"%s/%s\"", vd->home, name);
	_cleanup_json_ json_object *o = NULL;
	int r = st_json_load_at(dfd, "opts.json", &o, err);
	if (r < 0)
		return st_error_wrap(err, "local: volume \"%s\"", name);
	struct st_kvlist kv = {0};
	static const char *const keys[] = {"type", "device", "o", "size"};
	for (size_t i = 0; i < ST_ARRAY_SIZE(keys); i++) {
		json_object *v;
		if (json_object_object_get_ex(o, keys[i], &v))
			st_kvlist_add(&kv, keys[i], "%s", json_object_get_string(v));
	}
	r = local_parse(name, &kv, lo, err);
	st_kvlist_free(&kv);
	return r;
}

static int local_data_path(struct st_volume_driver *vd, const char *name, char *path, size_t len)
{
	if ((size_t)snprintf(path, len, "%s/%s/_data", vd->home, name) >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* ------------------------------------------------------------------ ops */

static int local_init(struct st_volume_driver *vd, struct st_error *err)
{
	/* finish removals a killed process left, unless another is removing */
	int lfd = st_trylock_at(vd->home_fd, ".trash.lock", LOCK_EX, err);
	if (lfd >= 0) {
		struct st_error ignore;
		st_trash_sweep(vd->home_fd, &ignore);
		st_unlock(&lfd);
	}
	return 0;
}

static int local_create(struct st_volume_driver *vd, const char *name, const struct st_kvlist *opts,
			struct st_error *err)
{
	struct local_opts lo;
	int r = local_parse(name, opts, &lo, err);
	if (r < 0)
		return r;
	if (lo.size && !lo.type[0]) {
		char why[256];
		if (local_quota_supported(vd->home_fd, why, sizeof(why)) < 0)
			return st_error_fail(err, ENOTSUP, "local: volume \"%s\": size needs project quotas: %s (\"%s\")",
					     name, why, vd->home);
	}
	if (mkdirat(vd->home_fd, name, 0755) < 0)
		return errno == EEXIST ? st_error_fail(err, EEXIST, "local: volume \"%s\" already exists in \"%s\"", name, vd->home)
				       : st_error_set(err, errno, "local: create \"%s/%s\"", vd->home, name);
	_cleanup_close_ int dfd = st_open_nofollow(vd->home_fd, name, O_RDONLY | O_DIRECTORY, 0);
	if (dfd < 0)
		r = st_error_set(err, -dfd, "local: open \"%s/%s\"", vd->home, name);
	_cleanup_json_ json_object *o = json_object_new_object();
	for (size_t i = 0; r >= 0 && opts && i < opts->n; i++)
		json_object_object_add(o, opts->v[i].key, json_object_new_string(opts->v[i].value));
	if (r >= 0 && (r = st_json_save_at(dfd, "opts.json", o, err)) < 0)
		st_error_wrap(err, "local: volume \"%s\"", name);
	if (r >= 0 && mkdirat(dfd, "_data", 0755) < 0)
		r = st_error_set(err, errno, "local: create \"%s/%s/_data\"", vd->home, name);
	if (r >= 0 && lo.size && !lo.type[0]) {
		_cleanup_close_ int data = st_open_nofollow(dfd, "_data", O_RDONLY | O_DIRECTORY, 0);
		r = data < 0 ? st_error_set(err, -data, "local: open \"%s/%s/_data\"", vd->home, name)
			     : local_quota_set(vd->home_fd, data, lo.size, err);
	}
	if (r < 0) {
		struct st_error ignore;
		st_rm_rf_at(vd->home_fd, name, &ignore);
	}
	return r;
}

static int local_mount(struct st_volume_driver *vd, const char *name, const char *mount_id, char *path, size_t len,
		       struct st_error *err)
{
	struct local_opts lo;
	int r = local_load(vd, name, &lo, err);
	if (r < 0)
		return r;
	if (local_data_path(vd, name, path, len) < 0)
		return st_error_fail(err, ENAMETOOLONG, "local: volume \"%s\": path too long", name);
	if (!lo.type[0] || st_is_mountpoint(path))
		return 0;
	_cleanup_free_ char *o = NULL;
	char what[300];
	snprintf(what, sizeof(what), "local: volume \"%s\"", name);
	if (local_is_net(lo.type)) {
		if ((r = vd_resolve_addr_option(what, lo.o, &o, err)) < 0)
			return r;
	} else {
		o = st_strdup(lo.o);
	}
	if (!o)
		return st_error_set(err, ENOMEM, "%s", what);
	if (lo.size) {
		char *with = st_asprintf("%s%ssize=%lld", o, o[0] ? "," : "", (long long)lo.size);
		if (!with)
			return st_error_set(err, ENOMEM, "%s", what);
		free(o);
		o = with;
	}
	return vd_mount(what, lo.device, path, lo.type, o, LOCAL_MOUNT_TIMEOUT, err);
}

static int local_unmount(struct st_volume_driver *vd, const char *name, const char *mount_id, struct st_error *err)
{
	struct local_opts lo;
	int r = local_load(vd, name, &lo, err);
	if (r < 0 || !lo.type[0])
		return r;
	char path[PATH_MAX], what[300];
	local_data_path(vd, name, path, sizeof(path));
	snprintf(what, sizeof(what), "local: volume \"%s\"", name);
	return vd_umount(what, path, LOCAL_MOUNT_TIMEOUT, err);
}

static int local_remove(struct st_volume_driver *vd, const char *name, struct st_error *err)
{
	char path[PATH_MAX], what[300];
	local_data_path(vd, name, path, sizeof(path));
	snprintf(what, sizeof(what), "local: volume \"%s\"", name);
	/* the core calls remove only when nobody holds the volume: a mount here
	 * was left by a process killed between mounting and recording it */
	int r = vd_umount(what, path, LOCAL_MOUNT_TIMEOUT, err);
	if (r < 0)
		return r;
	if (st_is_mountpoint(path))
		return st_error_fail(err, EBUSY, "local: volume \"%s\" is still mounted at \"%s\"", name, path);
	{
		_cleanup_close_ int data = st_open_nofollow(vd->home_fd, path + strlen(vd->home) + 1,
							    O_RDONLY | O_DIRECTORY, 0);
		if (data >= 0)
			local_quota_clear(data);
	}
	int lfd = st_lock_at(vd->home_fd, ".trash.lock", LOCK_SH, err);
	if (lfd < 0)
		return lfd;
	r = st_remove_at(vd->home_fd, name, err);
	st_unlock(&lfd);
	return r < 0 ? st_error_wrap(err, "local: remove volume \"%s\"", name) : 0;
}

static int local_path(struct st_volume_driver *vd, const char *name, char *path, size_t len, struct st_error *err)
{
	if (local_data_path(vd, name, path, len) < 0)
		return st_error_fail(err, ENAMETOOLONG, "local: volume \"%s\": path too long", name);
	return 0;
}

static int local_get(struct st_volume_driver *vd, const char *name, struct st_kvlist *status, struct st_error *err)
{
	struct local_opts lo;
	int r = local_load(vd, name, &lo, err);
	if (r < 0)
		return r;
	if (lo.size) {
		char sz[32];
		st_format_size(lo.size, sz, sizeof(sz));
		st_kvlist_add(status, "Size limit", "%s (%s)", sz, lo.type[0] ? "tmpfs size" : "project quota");
	}
	if (lo.type[0]) {
		char path[PATH_MAX];
		local_data_path(vd, name, path, sizeof(path));
		st_kvlist_add(status, "Mounted", "%s", st_is_mountpoint(path) ? "true" : "false");
	}
	return 0;
}

static int local_list(struct st_volume_driver *vd, char ***names, size_t *n, struct st_error *err)
{
	*names = NULL;
	*n = 0;
	char **all;
	size_t na;
	int r = st_list_dir(vd->home_fd, &all, &na);
	if (r < 0)
		return st_error_set(err, -r, "local: list \"%s\"", vd->home);
	for (size_t i = 0; i < na && r >= 0; i++) {
		if (!st_volume_name_valid(all[i]))
			continue;
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/opts.json", all[i]);
		struct stat st;
		if (fstatat(vd->home_fd, p, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
			r = st_strv_push(names, n, all[i]);
	}
	st_strv_free(all, na);
	return r < 0 ? st_error_set(err, ENOMEM, "local: list") : 0;
}

static enum st_volume_scope local_capabilities(struct st_volume_driver *vd)
{
	return ST_VOLUME_SCOPE_LOCAL;
}

const struct st_volume_driver_ops st_local_volume_driver = {
	.name = "local",
	.abi = ST_VOLUME_ABI,
	.create_options = local_options,
	.init = local_init,
	.create = local_create,
	.remove = local_remove,
	.mount = local_mount,
	.unmount = local_unmount,
	.path = local_path,
	.get = local_get,
	.list = local_list,
	.capabilities = local_capabilities,
};
