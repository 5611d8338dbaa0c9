/* nfs: a volume is an NFS export, mounted on first use at
 * <root>/volume-drivers/nfs/mnt/NAME and shared by every user of the volume
 * (the core counts them and calls unmount after the last).
 *
 *   strata volume create -d nfs -o addr=HOST -o export=/path
 *          [-o vers=3|4|4.1|4.2] [-o o=extra,options] [-o timeout=SECONDS] NAME
 *
 * The kernel's NFS client mounts it directly (no mount.nfs helper): HOST is
 * resolved to an address first (getaddrinfo), which goes in addr=, with
 * clientaddr= for NFSv4 callbacks. The mount runs in a child process with a
 * deadline (timeout=, default 30 s), so a server that is down gives an
 * error in bounded time instead of a hang. The volume's settings are in
 * volumes/NAME (JSON). The scope is global: the data lives on the server. */
#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include "base/base.h"
#include "vd_mount.h"

static const char *const nfs_options[] = {"addr", "export", "vers", "o", "timeout", NULL};

#define NFS_DEFAULT_TIMEOUT 30
#define NFS_DEFAULT_VERS "4"

struct nfs_vol {
	char addr[256];
	char export_[PATH_MAX];
	char vers[8];
	char o[1024];
	int timeout;
};

static int nfs_bad(const char *name, const char *what, const char *value, const char *why, struct st_error *err)
{
	return st_error_fail(err, EINVAL, "nfs: volume \"%s\": invalid %s \"%s\": %s", name, what, value, why);
}

/* Options that strata computes itself may not come in through o=. */
static int nfs_check_extra(const char *name, const char *o, struct st_error *err)
{
	static const char *const owned[] = {"addr", "clientaddr", "vers", "nfsvers", "minorversion"};
	_cleanup_free_ char *copy = st_strdup(o);
	if (!copy)
		return st_error_set(err, ENOMEM, "nfs");
	char *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		size_t kl = strcspn(t, "=");
		for (size_t i = 0; i < ST_ARRAY_SIZE(owned); i++)
			if (strlen(owned[i]) == kl && strncmp(t, owned[i], kl) == 0)
				return nfs_bad(name, "o", o, strcmp(owned[i], "addr") == 0 || strcmp(owned[i], "clientaddr") == 0
								 ? "the address comes from -o addr="
								 : "the version comes from -o vers=",
					       err);
	}
	return 0;
}

static int nfs_parse(const char *name, const struct st_kvlist *kv, struct nfs_vol *v, struct st_error *err)
{
	memset(v, 0, sizeof(*v));
	const char *addr = st_kvlist_get(kv, "addr"), *exp = st_kvlist_get(kv, "export");
	const char *vers = st_kvlist_get(kv, "vers"), *o = st_kvlist_get(kv, "o");
	const char *timeout = st_kvlist_get(kv, "timeout");
	if (!addr || !*addr)
		return st_error_fail(err, EINVAL, "nfs: volume \"%s\": missing required option: \"addr\" (the server)", name);
	if (!exp || !*exp)
		return st_error_fail(err, EINVAL, "nfs: volume \"%s\": missing required option: \"export\" (a path on the server)",
				     name);
	for (const char *p = addr; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr(".-:[]_%", *p))
			return nfs_bad(name, "addr", addr, "not a host name or address", err);
	if (strlen(addr) >= sizeof(v->addr))
		return nfs_bad(name, "addr", addr, "too long", err);
	if (exp[0] != '/' || strchr(exp, ',') || strchr(exp, '\n') || strlen(exp) >= sizeof(v->export_))
		return nfs_bad(name, "export", exp, "an absolute path without commas", err);
	if (!vers)
		vers = NFS_DEFAULT_VERS;
	if (strcmp(vers, "3") && strcmp(vers, "4") && strcmp(vers, "4.0") && strcmp(vers, "4.1") &&
	    strcmp(vers, "4.2"))
		return nfs_bad(name, "vers", vers, "use 3, 4, 4.1 or 4.2", err);
	if (o && (strchr(o, '\n') || strlen(o) >= sizeof(v->o)))
		return nfs_bad(name, "o", o, "one line of comma-separated options", err);
	int r;
	if (o && (r = nfs_check_extra(name, o, err)) < 0)
		return r;
	v->timeout = NFS_DEFAULT_TIMEOUT;
	if (timeout) {
		char *end;
		long t = strtol(timeout, &end, 10);
		if (*end || t < 1 || t > 3600)
			return nfs_bad(name, "timeout", timeout, "seconds, 1-3600", err);
		v->timeout = (int)t;
	}
	snprintf(v->addr, sizeof(v->addr), "%s", addr);
	snprintf(v->export_, sizeof(v->export_), "%s", exp);
	snprintf(v->vers, sizeof(v->vers), "%s", vers);
	snprintf(v->o, sizeof(v->o), "%s", o ? o : "");
	return 0;
}

static int nfs_load(struct st_volume_driver *vd, const char *name, struct nfs_vol *v, struct st_error *err)
{
	_cleanup_close_ int dfd = st_open_dir(vd->home_fd, "volumes", err);
	if (dfd < 0)
		return dfd;
	_cleanup_json_ json_object *o = NULL;
	int r = st_json_load_at(dfd, name, &o, err);
	if (r == -ENOENT)
		return st_error_fail(err, ENOENT, "nfs: no such volume: %s", name);
	if (r < 0)
		return st_error_wrap(err, "nfs: volume \"%s\"", name);
	struct st_kvlist kv = {0};
	json_object_object_foreach(o, key, val) st_kvlist_add(&kv, key, "%s", json_object_get_string(val));
	r = nfs_parse(name, &kv, v, err);
	st_kvlist_free(&kv);
	return r;
}

static void nfs_mnt_path(struct st_volume_driver *vd, const char *name, char *path, size_t len)
{
	snprintf(path, len, "%s/mnt/%s", vd->home, name);
}

/* ------------------------------------------------------------------ ops */

static int nfs_init(struct st_volume_driver *vd, struct st_error *err)
{
	int r = st_mkdir_p_at(vd->home_fd, "volumes", 0700, err);
	return r < 0 ? r : st_mkdir_p_at(vd->home_fd, "mnt", 0700, err);
}

static int nfs_create(struct st_volume_driver *vd, const char *name, const struct st_kvlist *opts,
		      struct st_error *err)
{
	struct nfs_vol v;
	int r = nfs_parse(name, opts, &v, err);
	if (r < 0)
		return r;
	_cleanup_close_ int vfd = st_open_dir(vd->home_fd, "volumes", err);
	_cleanup_close_ int mfd = st_open_dir(vd->home_fd, "mnt", err);
	if (vfd < 0 || mfd < 0)
		return vfd < 0 ? vfd : mfd;
	if (faccessat(vfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return st_error_fail(err, EEXIST, "nfs: volume \"%s\" already exists", name);
	if (mkdirat(mfd, name, 0755) < 0 && errno != EEXIST)
		return st_error_set(err, errno, "nfs: create mount point \"%s/mnt/%s\"", vd->home, name);
	_cleanup_json_ json_object *o = json_object_new_object();
	json_object_object_add(o, "addr", json_object_new_string(v.addr));
	json_object_object_add(o, "export", json_object_new_string(v.export_));
	json_object_object_add(o, "vers", json_object_new_string(v.vers));
	if (v.o[0])
		json_object_object_add(o, "o", json_object_new_string(v.o));
	char tmo[16];
	snprintf(tmo, sizeof(tmo), "%d", v.timeout);
	json_object_object_add(o, "timeout", json_object_new_string(tmo));
	r = st_json_save_at(vfd, name, o, err);
	if (r < 0) {
		unlinkat(mfd, name, AT_REMOVEDIR);
		return st_error_wrap(err, "nfs: volume \"%s\"", name);
	}
	return 0;
}

static int nfs_mount(struct st_volume_driver *vd, const char *name, const char *mount_id, char *path, size_t len,
		     struct st_error *err)
{
	struct nfs_vol v;
	int r = nfs_load(vd, name, &v, err);
	if (r < 0)
		return r;
	nfs_mnt_path(vd, name, path, len);
	if (st_is_mountpoint(path))
		return 0; /* a crash left it mounted: reuse it */
	char what[300], ip[INET6_ADDRSTRLEN + 1], cip[INET6_ADDRSTRLEN + 1] = "";
	snprintf(what, sizeof(what), "nfs: volume \"%s\"", name);
	if ((r = vd_resolve(what, v.addr, ip, sizeof(ip), err)) < 0)
		return r;
	bool v6 = strchr(ip, ':') != NULL;
	char source[PATH_MAX + 300], opts[2048];
	/* the source names the host as given (that is what mountinfo shows);
	 * the kernel connects to addr= */
	bool host_v6 = strchr(v.addr, ':') && v.addr[0] != '[';
	snprintf(source, sizeof(source), "%s%s%s:%s", host_v6 ? "[" : "", v.addr, host_v6 ? "]" : "", v.export_);
	int n = snprintf(opts, sizeof(opts), "vers=%s,addr=%s", v.vers, ip);
	if (v.vers[0] == '4' && vd_local_addr_for(ip, cip, sizeof(cip)) == 0)
		n += snprintf(opts + n, sizeof(opts) - (size_t)n, ",clientaddr=%s", cip);
	if (v.vers[0] == '3')
		n += snprintf(opts + n, sizeof(opts) - (size_t)n, ",proto=%s", v6 ? "tcp6" : "tcp");
	if (v.o[0])
		snprintf(opts + n, sizeof(opts) - (size_t)n, ",%s", v.o);
	r = vd_mount(what, source, path, "nfs", opts, v.timeout, err);
	if (err && (r == -ECONNREFUSED || r == -EPROTONOSUPPORT || r == -EOPNOTSUPP || r == -EHOSTUNREACH ||
	    r == -ENETUNREACH || r == -EIO)) {
		/* the kernel's words alone ("Operation not supported") do not
		 * say that nobody answered */
		char inner[sizeof(err->msg)];
		snprintf(inner, sizeof(inner), "%s", err->msg);
		r = st_error_fail(err, -r, "%s (no NFSv%s service at %s, address %s: is the server running?)", inner,
				  v.vers, v.addr, ip);
	}
	return r;
}

static int nfs_unmount(struct st_volume_driver *vd, const char *name, const char *mount_id, struct st_error *err)
{
	struct nfs_vol v;
	int r = nfs_load(vd, name, &v, err);
	if (r < 0)
		return r;
	char path[PATH_MAX], what[300];
	nfs_mnt_path(vd, name, path, sizeof(path));
	snprintf(what, sizeof(what), "nfs: volume \"%s\"", name);
	return vd_umount(what, path, v.timeout, err);
}

static int nfs_remove(struct st_volume_driver *vd, const char *name, struct st_error *err)
{
	char path[PATH_MAX], what[300];
	nfs_mnt_path(vd, name, path, sizeof(path));
	snprintf(what, sizeof(what), "nfs: volume \"%s\"", name);
	/* nobody holds it (the core checked): a mount here is a crash's leftover */
	int r = vd_umount(what, path, NFS_DEFAULT_TIMEOUT, err);
	if (r < 0)
		return r;
	if (st_is_mountpoint(path))
		return st_error_fail(err, EBUSY, "nfs: volume \"%s\" is still mounted at \"%s\"", name, path);
	_cleanup_close_ int vfd = st_open_dir(vd->home_fd, "volumes", err);
	_cleanup_close_ int mfd = st_open_dir(vd->home_fd, "mnt", err);
	if (vfd < 0 || mfd < 0)
		return vfd < 0 ? vfd : mfd;
	/* the data is the server's: only our record and mount point go */
	if (unlinkat(vfd, name, 0) < 0 && errno != ENOENT)
		return st_error_set(err, errno, "nfs: remove volume \"%s\"", name);
	st_fsync_dir(vfd);
	if (unlinkat(mfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return st_error_set(err, errno, "nfs: remove mount point \"%s\"", path);
	return 0;
}

static int nfs_path(struct st_volume_driver *vd, const char *name, char *path, size_t len, struct st_error *err)
{
	nfs_mnt_path(vd, name, path, len);
	return 0;
}

static int nfs_get(struct st_volume_driver *vd, const char *name, struct st_kvlist *status, struct st_error *err)
{
	struct nfs_vol v;
	int r = nfs_load(vd, name, &v, err);
	if (r < 0)
		return r;
	char path[PATH_MAX];
	nfs_mnt_path(vd, name, path, sizeof(path));
	st_kvlist_add(status, "Server", "%s", v.addr);
	st_kvlist_add(status, "Export", "%s", v.export_);
	st_kvlist_add(status, "Version", "%s", v.vers);
	st_kvlist_add(status, "Mounted", "%s", st_is_mountpoint(path) ? "true" : "false");
	return 0;
}

static int nfs_list(struct st_volume_driver *vd, char ***names, size_t *n, struct st_error *err)
{
	*names = NULL;
	*n = 0;
	_cleanup_close_ int vfd = st_open_dir(vd->home_fd, "volumes", err);
	if (vfd < 0)
		return vfd;
	char **all;
	size_t na;
	int r = st_list_dir(vfd, &all, &na);
	if (r < 0)
		return st_error_set(err, -r, "nfs: list \"%s/volumes\"", vd->home);
	for (size_t i = 0; i < na && r >= 0; i++)
		if (st_volume_name_valid(all[i]))
			r = st_strv_push(names, n, all[i]);
	st_strv_free(all, na);
	return r < 0 ? st_error_set(err, ENOMEM, "nfs: list") : 0;
}

static enum st_volume_scope nfs_capabilities(struct st_volume_driver *vd)
{
	return ST_VOLUME_SCOPE_GLOBAL;
}

const struct st_volume_driver_ops st_nfs_volume_driver = {
	.name = "nfs",
	.abi = ST_VOLUME_ABI,
	.create_options = nfs_options,
	.init = nfs_init,
	.create = nfs_create,
	.remove = nfs_remove,
	.mount = nfs_mount,
	.unmount = nfs_unmount,
	.path = nfs_path,
	.get = nfs_get,
	.list = nfs_list,
	.capabilities = nfs_capabilities,
};
