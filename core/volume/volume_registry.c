/* The volume-driver registry: drivers compiled in (the table the Makefile
 * generates from volume-drivers/<name>/), drivers added at run time (C
 * plugins from shared objects, embedders), and the fallback that turns any
 * other name into an out-of-process plugin through the "plugin" adapter. */
#include <ctype.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>

#include "base/base.h"
#include "volume/volume.h"

extern const struct st_volume_driver_ops *const st_builtin_volume_drivers[];
extern const size_t st_builtin_nvolume_drivers;

#define VREG_MAX 64
static const struct st_volume_driver_ops *vreg_extra[VREG_MAX];
static size_t vreg_nextra;
static pthread_mutex_t vreg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t vreg_scan_once = PTHREAD_ONCE_INIT;

bool st_vdrv_name_valid(const char *name)
{
	if (!name || !isalnum((unsigned char)name[0]))
		return false;
	size_t n = 0;
	for (const char *p = name; *p; p++, n++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
			return false;
	return n <= 63;
}

/* [a-zA-Z0-9][a-zA-Z0-9_.-]* (lengths are the callers' business) */
static bool vreg_chars_ok(const char *s)
{
	if (!isalnum((unsigned char)s[0]))
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
			return false;
	return true;
}

bool st_volume_name_valid(const char *name)
{
	return name && strlen(name) >= 2 && strlen(name) <= ST_VOLUME_NAME_MAX && vreg_chars_ok(name);
}

bool st_volume_mount_id_valid(const char *id)
{
	return id && strlen(id) >= 1 && strlen(id) <= ST_VOLUME_MOUNT_ID_MAX && vreg_chars_ok(id);
}

int st_volume_check_name(const char *name, struct st_error *err)
{
	if (!st_volume_name_valid(name))
		return st_error_fail(err, EINVAL,
				     "invalid volume name \"%.*s\": use 2-%d characters of [a-zA-Z0-9_.-], "
				     "starting with a letter or digit",
				     ST_VOLUME_NAME_MAX + 1, name ? name : "", ST_VOLUME_NAME_MAX);
	return 0;
}

/* ------------------------------------------------------- registering */

static const struct st_volume_driver_ops *vreg_find(const char *name)
{
	for (size_t i = 0; i < st_builtin_nvolume_drivers; i++)
		if (strcmp(st_builtin_volume_drivers[i]->name, name) == 0)
			return st_builtin_volume_drivers[i];
	for (size_t i = 0; i < vreg_nextra; i++)
		if (strcmp(vreg_extra[i]->name, name) == 0)
			return vreg_extra[i];
	return NULL;
}

static int vreg_add(const struct st_volume_driver_ops *ops, const char *origin, struct st_error *err)
{
	if (!ops || !ops->name || !st_vdrv_name_valid(ops->name))
		return st_error_fail(err, EINVAL, "%s: volume driver without a valid name", origin);
	if (ops->abi != ST_VOLUME_ABI)
		return st_error_fail(err, EPROTO, "%s: volume driver \"%s\" is built for ABI %u, this strata has %u",
				     origin, ops->name, ops->abi, ST_VOLUME_ABI);
	if (!ops->create || !ops->remove || !ops->mount || !ops->unmount || !ops->path || !ops->get || !ops->list)
		return st_error_fail(err, EINVAL,
				     "%s: volume driver \"%s\" lacks a required op (create, remove, mount, unmount, path, get, list)",
				     origin, ops->name);
	pthread_mutex_lock(&vreg_lock);
	int r = 0;
	if (vreg_find(ops->name))
		r = st_error_fail(err, EEXIST, "%s: a volume driver named \"%s\" is already registered", origin,
				  ops->name);
	else if (vreg_nextra >= VREG_MAX)
		r = st_error_fail(err, ENOSPC, "%s: too many volume drivers (%d)", origin, VREG_MAX);
	else
		vreg_extra[vreg_nextra++] = ops;
	pthread_mutex_unlock(&vreg_lock);
	return r;
}

int st_volume_driver_register(const struct st_volume_driver_ops *ops, struct st_error *err)
{
	return vreg_add(ops, "st_volume_driver_register", err);
}

/* ------------------------------------------------------------ C plugins */

struct vreg_host {
	struct st_volume_plugin_host host;
	const char *path;
	struct st_error *err;
	int first_error;
};

static int vreg_host_register(struct st_volume_plugin_host *host, const struct st_volume_driver_ops *ops)
{
	struct vreg_host *h = (struct vreg_host *)host;
	struct st_error e = {0};
	int r = vreg_add(ops, h->path, &e);
	if (r < 0 && !h->first_error) {
		h->first_error = r;
		if (h->err)
			*h->err = e;
	}
	return r;
}

/* A plugin runs as root inside strata: refuse files others could swap. */
static int vreg_check_file(const char *path, struct st_error *err)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return st_error_set(err, errno, "volume plugin \"%s\"", path);
	if (!S_ISREG(st.st_mode))
		return st_error_fail(err, EINVAL, "volume plugin \"%s\" is not a regular file", path);
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return st_error_fail(err, EPERM, "volume plugin \"%s\" is owned by uid %u, not root: refused", path,
				     (unsigned)st.st_uid);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return st_error_fail(err, EPERM, "volume plugin \"%s\" is writable by group or others: refused",
				     path);
	return 0;
}

int st_volume_plugin_load(const char *path, struct st_error *err)
{
	int r = vreg_check_file(path, err);
	if (r < 0)
		return r;
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return st_error_fail(err, ENOEXEC, "volume plugin \"%s\": %s", path, dlerror());
	st_volume_plugin_init_fn init = (st_volume_plugin_init_fn)dlsym(h, ST_VOLUME_PLUGIN_ENTRY);
	if (!init) {
		dlclose(h);
		return st_error_fail(err, ENOEXEC, "volume plugin \"%s\" has no %s() entry point", path,
				     ST_VOLUME_PLUGIN_ENTRY);
	}
	struct vreg_host vh = {
		.host = {.abi = ST_VOLUME_ABI, .register_driver = vreg_host_register,
			 .error_fail = st_error_fail, .error_set = st_error_set},
		.path = path,
		.err = err,
	};
	r = init(&vh.host);
	if (vh.first_error)
		return vh.first_error; /* ops already registered stay: the object stays loaded */
	if (r < 0)
		return st_error_fail(err, -r, "volume plugin \"%s\": %s() failed: %s", path, ST_VOLUME_PLUGIN_ENTRY,
				     strerror(-r));
	return 0; /* never dlclose: registered ops point into it */
}

static void vreg_scan_dir(const char *dir)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char **names;
	size_t n;
	if (fd < 0 || st_list_dir(fd, &names, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (!st_str_has_suffix(names[i], ".so"))
			continue;
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		struct st_error e = {0};
		if (st_volume_plugin_load(path, &e) < 0)
			fprintf(stderr, "strata: warning: %s\n", e.msg);
	}
	st_strv_free(names, n);
}

static void vreg_scan(void)
{
	const char *env = getenv("STRATA_VOLUME_PLUGIN_PATH");
	_cleanup_free_ char *dirs =
		st_strdup(env ? env : "/usr/local/lib/strata/volume-plugins:/usr/lib/strata/volume-plugins");
	char *save = NULL;
	for (char *d = dirs ? strtok_r(dirs, ":", &save) : NULL; d; d = strtok_r(NULL, ":", &save))
		if (*d)
			vreg_scan_dir(d);
}

const struct st_volume_driver_ops *st_volume_driver_lookup(const char *name)
{
	if (!name)
		return NULL;
	pthread_once(&vreg_scan_once, vreg_scan);
	pthread_mutex_lock(&vreg_lock);
	const struct st_volume_driver_ops *ops = vreg_find(name);
	pthread_mutex_unlock(&vreg_lock);
	return ops;
}

int st_vdrv_builtin_names(char ***names, size_t *n)
{
	*names = NULL;
	*n = 0;
	pthread_once(&vreg_scan_once, vreg_scan);
	int r = 0;
	pthread_mutex_lock(&vreg_lock);
	for (size_t i = 0; i < st_builtin_nvolume_drivers && r >= 0; i++)
		if (strcmp(st_builtin_volume_drivers[i]->name, "plugin") != 0)
			r = st_strv_push(names, n, st_builtin_volume_drivers[i]->name);
	for (size_t i = 0; i < vreg_nextra && r >= 0; i++)
		r = st_strv_push(names, n, vreg_extra[i]->name);
	pthread_mutex_unlock(&vreg_lock);
	return r;
}

/* ------------------------------------------------------------- opening */

int st_vdrv_open(const char *root, const char *name, struct st_volume_driver **out, struct st_error *err)
{
	if (!st_vdrv_name_valid(name))
		return st_error_fail(err, EINVAL,
				     "invalid volume driver name \"%.64s\": use 1-63 of [a-zA-Z0-9_.-], starting with a letter or digit",
				     name ? name : "");
	if (strcmp(name, "plugin") == 0)
		return st_error_fail(err, EINVAL,
				     "\"plugin\" is the adapter for out-of-process plugins: use -d PLUGIN_NAME");
	const struct st_volume_driver_ops *ops = st_volume_driver_lookup(name);
	if (!ops)
		ops = st_volume_driver_lookup("plugin");
	if (!ops)
		return st_error_fail(err, ENOENT, "unknown volume driver \"%s\"", name);
	struct st_volume_driver *vd = calloc(1, sizeof(*vd));
	if (!vd)
		return st_error_set(err, ENOMEM, "volume driver %s", name);
	vd->ops = ops;
	vd->home_fd = -1;
	snprintf(vd->name, sizeof(vd->name), "%s", name);
	snprintf(vd->root, sizeof(vd->root), "%s", root);
	if (strcmp(name, "local") == 0)
		snprintf(vd->home, sizeof(vd->home), "%s/volumes", root);
	else
		snprintf(vd->home, sizeof(vd->home), "%s/volume-drivers/%s", root, name);
	bool made = access(vd->home, F_OK) < 0;
	int r = st_mkdir_p_at(AT_FDCWD, vd->home, 0700, err);
	if (r >= 0) {
		vd->home_fd = open(vd->home, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (vd->home_fd < 0)
			r = st_error_set(err, errno, "volume driver %s: open home \"%s\"", name, vd->home);
	}
	if (r >= 0 && ops->init)
		r = ops->init(vd, err);
	if (r < 0) {
		if (vd->home_fd >= 0)
			close(vd->home_fd);
		if (made)
			rmdir(vd->home); /* a mistyped plugin name leaves nothing behind */
		free(vd);
		return r;
	}
	*out = vd;
	return 0;
}

void st_vdrv_close(struct st_volume_driver *vd)
{
	if (!vd)
		return;
	if (vd->ops->cleanup)
		vd->ops->cleanup(vd);
	if (vd->home_fd >= 0)
		close(vd->home_fd);
	free(vd);
}
