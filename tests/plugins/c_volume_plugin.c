/* An example C volume plugin: a shared object strata loads with dlopen.
 * Driver "cdir": a volume is a directory <home>/NAME, with an optional
 * "label" option kept in <home>/NAME.label. It links nothing of libstrata:
 * errors go through the host's helpers.
 *
 *   cc -shared -fPIC -Iinclude -o cdir.so tests/plugins/c_volume_plugin.c
 *   STRATA_VOLUME_PLUGIN_PATH=$PWD strata volume create -d cdir v1
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strata.h"

static struct st_volume_plugin_host *host;

static int cdir_create(struct st_volume_driver *vd, const char *name, const struct st_kvlist *opts,
		       struct st_error *err)
{
	if (mkdirat(vd->home_fd, name, 0755) < 0)
		return host->error_set(err, errno, "cdir: create volume \"%s\" in \"%s\"", name, vd->home);
	for (size_t i = 0; opts && i < opts->n; i++) {
		if (strcmp(opts->v[i].key, "label") != 0)
			continue;
		char f[300];
		snprintf(f, sizeof(f), "%s.label", name);
		int fd = openat(vd->home_fd, f, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || write(fd, opts->v[i].value, strlen(opts->v[i].value)) < 0) {
			int e = errno;
			if (fd >= 0)
				close(fd);
			unlinkat(vd->home_fd, name, AT_REMOVEDIR);
			return host->error_set(err, e, "cdir: volume \"%s\": write label", name);
		}
		close(fd);
	}
	return 0;
}

static int cdir_remove(struct st_volume_driver *vd, const char *name, struct st_error *err)
{
	char f[300];
	snprintf(f, sizeof(f), "%s.label", name);
	unlinkat(vd->home_fd, f, 0);
	if (unlinkat(vd->home_fd, name, AT_REMOVEDIR) < 0)
		return host->error_set(err, errno, "cdir: remove volume \"%s\" (it must be empty)", name);
	return 0;
}

static int cdir_path(struct st_volume_driver *vd, const char *name, char *path, size_t len, struct st_error *err)
{
	snprintf(path, len, "%s/%s", vd->home, name);
	return 0;
}

static int cdir_mount(struct st_volume_driver *vd, const char *name, const char *id, char *path, size_t len,
		      struct st_error *err)
{
	return cdir_path(vd, name, path, len, err); /* a directory needs no mount */
}

static int cdir_unmount(struct st_volume_driver *vd, const char *name, const char *id, struct st_error *err)
{
	return 0;
}

static int cdir_get(struct st_volume_driver *vd, const char *name, struct st_kvlist *status, struct st_error *err)
{
	struct stat st;
	if (fstatat(vd->home_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
		return host->error_fail(err, ENOENT, "cdir: no such volume: %s", name);
	return 0;
}

static int cdir_list(struct st_volume_driver *vd, char ***names, size_t *n, struct st_error *err)
{
	*names = NULL;
	*n = 0;
	int fd = openat(vd->home_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d)
		return host->error_set(err, errno, "cdir: list \"%s\"", vd->home);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || de->d_type != DT_DIR)
			continue;
		char **nv = realloc(*names, (*n + 1) * sizeof(char *));
		if (!nv || !(nv[*n] = strdup(de->d_name))) {
			*names = nv ? nv : *names;
			closedir(d);
			return host->error_set(err, ENOMEM, "cdir: list");
		}
		*names = nv;
		(*n)++;
	}
	closedir(d);
	return 0;
}

static const char *const cdir_options[] = {"label", NULL};

static const struct st_volume_driver_ops cdir_ops = {
	.name = "cdir",
	.abi = ST_VOLUME_ABI,
	.create_options = cdir_options,
	.create = cdir_create,
	.remove = cdir_remove,
	.mount = cdir_mount,
	.unmount = cdir_unmount,
	.path = cdir_path,
	.get = cdir_get,
	.list = cdir_list,
};

int strata_volume_plugin_init(struct st_volume_plugin_host *h)
{
	if (h->abi != ST_VOLUME_ABI)
		return -EPROTO;
	host = h;
	return h->register_driver(h, &cdir_ops);
}
