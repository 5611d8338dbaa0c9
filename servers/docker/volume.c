/* The volume plugin protocol (Docker's volume/drivers/proxy.go and podman's
 * volume plugin client): each call is the strata volume store's, on the
 * store at --root (default: strata's default root), so `strata volume ls`
 * shows dockerd's volumes and one name is one volume for both.
 *
 * Which strata volume driver makes a volume (docker volume create -d NAME
 * -o ...):
 *   -o driver=D        D (local, nfs, or a C plugin's name); the other
 *                      options are D's own
 *   -o type=nfs|nfs4   nfs: addr=, export=, vers=, o=, timeout= as strata's
 *                      nfs driver takes them; Docker's local-driver spelling
 *                      works too: device=[HOST]:/EXPORT, o=addr=HOST,vers=4,...
 *                      (addr and vers are taken out of o=)
 *   anything else      local (type=, device=, o=, size= as strata's local
 *                      driver takes them; no option: a directory)
 * Out-of-process volume plugins are not served through this one. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dp.h"
#include "base/base.h"

struct v_call {
	struct dp_server *srv;
	struct st_store *s;
	unsigned gen;
	const char *name;
};

static int v_begin(struct dp_server *srv, struct v_call *c, json_object *req, const char *method, bool named,
		   struct st_error *err)
{
	memset(c, 0, sizeof(*c));
	c->srv = srv;
	int r = dp_req_str(req, method, "Name", &c->name, err);
	if (r < 0)
		return r;
	if (named && !st_volume_name_valid(c->name))
		return st_error_fail(err, EINVAL,
				     "%s: invalid volume name \"%.200s\": use [a-zA-Z0-9][a-zA-Z0-9_.-]+, at most %d characters",
				     method, c->name, ST_VOLUME_NAME_MAX);
	return dp_store_get(&srv->volumes, &c->s, &c->gen, err);
}

static void v_end(struct v_call *c)
{
	if (c->s)
		dp_store_put(&c->srv->volumes, c->s, c->gen);
	c->s = NULL;
}

/* ------------------------------------------------------ option mapping */

static bool is_nfs(const char *type)
{
	return type && (!strcmp(type, "nfs") || !strcmp(type, "nfs4"));
}

/* Docker's local-driver NFS spelling -> strata's nfs driver options. */
static int nfs_opts(const char *name, json_object *o, struct st_kvlist *out, struct st_error *err)
{
	const char *type = st_json_str(o, "type"), *addr = NULL, *vers = NULL, *export_ = NULL;
	char host[256] = "";
	_cleanup_free_ char *rest = NULL;
	int r = 0;
	json_object_object_foreach(o, k, v) {
		const char *val = json_object_get_string(v);
		if (!strcmp(k, "type"))
			continue;
		if (!strcmp(k, "addr")) {
			addr = val;
		} else if (!strcmp(k, "vers")) {
			vers = val;
		} else if (!strcmp(k, "export")) {
			export_ = val;
		} else if (!strcmp(k, "device")) {
			/* [HOST]:/EXPORT */
			const char *colon = strchr(val, ':');
			if (!colon || colon[1] != '/')
				return st_error_fail(err, EINVAL,
						     "VolumeDriver.Create: volume \"%s\": nfs device \"%s\" is not [HOST]:/EXPORT",
						     name, val);
			if (colon > val) /* else the host comes from o=addr= */
				snprintf(host, sizeof(host), "%.*s", (int)(colon - val), val);
			export_ = colon + 1;
		} else if (!strcmp(k, "o")) {
			_cleanup_free_ char *copy = st_strdup(val);
			if (!copy)
				return st_error_set(err, ENOMEM, "VolumeDriver.Create");
			char *save = NULL;
			for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				if (st_str_has_prefix(tok, "addr=")) {
					snprintf(host, sizeof(host), "%s", tok + 5);
				} else if (st_str_has_prefix(tok, "vers=") || st_str_has_prefix(tok, "nfsvers=")) {
					r = st_kvlist_add(out, "vers", "%s", strchr(tok, '=') + 1);
				} else {
					char *nr = rest ? st_asprintf("%s,%s", rest, tok) : st_strdup(tok);
					free(rest);
					rest = nr;
					if (!rest)
						return st_error_set(err, ENOMEM, "VolumeDriver.Create");
				}
			}
		} else {
			r = st_kvlist_add(out, k, "%s", val);
		}
		if (r < 0)
			return st_error_set(err, ENOMEM, "VolumeDriver.Create");
	}
	if (!addr && host[0])
		addr = host;
	if (!vers && !st_kvlist_get(out, "vers") && !strcmp(type, "nfs4"))
		vers = "4";
	if ((addr && st_kvlist_add(out, "addr", "%s", addr) < 0) || (vers && st_kvlist_add(out, "vers", "%s", vers) < 0) ||
	    (export_ && st_kvlist_add(out, "export", "%s", export_) < 0) || (rest && st_kvlist_add(out, "o", "%s", rest) < 0))
		return st_error_set(err, ENOMEM, "VolumeDriver.Create");
	return 0;
}

static int map_opts(const char *name, json_object *o, char *driver, size_t len, struct st_kvlist *out,
		    struct st_error *err)
{
	const char *explicit_ = st_json_str(o, "driver");
	if (explicit_[0]) {
		const struct st_volume_driver_ops *ops = st_volume_driver_lookup(explicit_);
		if (!ops || !strcmp(ops->name, "plugin"))
			return st_error_fail(err, EINVAL,
					     "VolumeDriver.Create: volume \"%s\": unknown strata volume driver \"%s\" (local, nfs or a C plugin's)",
					     name, explicit_);
		snprintf(driver, len, "%s", explicit_);
	} else {
		snprintf(driver, len, "%s", is_nfs(st_json_str(o, "type")) ? "nfs" : "local");
	}
	if (!explicit_[0] && !strcmp(driver, "nfs"))
		return nfs_opts(name, o, out, err);
	json_object_object_foreach(o, k, v) {
		if (!strcmp(k, "driver"))
			continue;
		if (st_kvlist_add(out, k, "%s", json_object_get_string(v)) < 0)
			return st_error_set(err, ENOMEM, "VolumeDriver.Create");
	}
	return 0;
}

/* ---------------------------------------------------------------- calls */

static int v_create(struct dp_server *srv, json_object *req, json_object **reply, struct st_error *err)
{
	struct v_call c;
	int r = v_begin(srv, &c, req, "VolumeDriver.Create", true, err);
	if (r < 0)
		return r;
	json_object *o;
	char driver[64];
	struct st_kvlist kv = {0};
	bool have = json_object_object_get_ex(req, "Opts", &o) && !json_object_is_type(o, json_type_null);
	if (have && !json_object_is_type(o, json_type_object)) {
		r = st_error_fail(err, EINVAL, "VolumeDriver.Create: volume \"%s\": \"Opts\" must be an object of strings",
				  c.name);
	} else {
		json_object *empty = have ? NULL : json_object_new_object();
		r = map_opts(c.name, have ? o : empty, driver, sizeof(driver), &kv, err);
		if (empty)
			json_object_put(empty);
	}
	if (r >= 0 && (r = st_volume_create(c.s, driver, c.name, &kv, NULL, err)) < 0)
		st_error_wrap(err, "VolumeDriver.Create");
	st_kvlist_free(&kv);
	v_end(&c);
	return r;
}

static int v_remove(struct dp_server *srv, json_object *req, json_object **reply, struct st_error *err)
{
	struct v_call c;
	int r = v_begin(srv, &c, req, "VolumeDriver.Remove", true, err);
	if (r >= 0 && (r = st_volume_remove(c.s, c.name, false, err)) < 0)
		st_error_wrap(err, "VolumeDriver.Remove");
	v_end(&c);
	return r;
}

/* Docker sends the mount's id (one per container mount), podman the
 * container's id; strata counts users by mount id, as "docker.NAME.ID" (so
 * they are never taken for strata's own containers). A client that sends
 * none is one user, "docker.NAME". */
static int v_mount_id(struct dp_server *srv, json_object *req, const char *method, char *out, size_t len,
		      struct st_error *err)
{
	const char *id;
	int r = dp_req_str(req, method, "ID", &id, err);
	if (r < 0)
		return r;
	snprintf(out, len, "%s%s%s%s", DP_LAYER_PREFIX, srv->name, id[0] ? "." : "", id);
	if (strlen(id) > 64 || !st_volume_mount_id_valid(out) || (id[0] && !isalnum((unsigned char)id[0])))
		return st_error_fail(err, EINVAL, "%s: invalid mount id \"%.200s\": use [a-zA-Z0-9][a-zA-Z0-9_.-]*, 1-64 characters",
				     method, id);
	return 0;
}

static json_object *mountpoint(const char *path)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "Mountpoint", json_object_new_string(path));
	return o;
}

static int v_mount(struct dp_server *srv, json_object *req, json_object **reply, struct st_error *err)
{
	struct v_call c;
	char id[ST_VOLUME_MOUNT_ID_MAX + 1], path[PATH_MAX];
	int r = v_mount_id(srv, req, "VolumeDriver.Mount", id, sizeof(id), err);
	if (r < 0 || (r = v_begin(srv, &c, req, "VolumeDriver.Mount", true, err)) < 0)
		return r;
	if ((r = st_volume_mount(c.s, c.name, id, path, sizeof(path), err)) < 0)
		st_error_wrap(err, "VolumeDriver.Mount");
	else
		*reply = mountpoint(path);
	v_end(&c);
	return r;
}

static int v_unmount(struct dp_server *srv, json_object *req, json_object **reply, struct st_error *err)
{
	struct v_call c;
	char id[ST_VOLUME_MOUNT_ID_MAX + 1];
	int r = v_mount_id(srv, req, "VolumeDriver.Unmount", id, sizeof(id), err);
	if (r < 0 || (r = v_begin(srv, &c, req, "VolumeDriver.Unmount", true, err)) < 0)
		return r;
	if ((r = st_volume_unmount(c.s, c.name, id, err)) < 0)
		st_error_wrap(err, "VolumeDriver.Unmount");
	v_end(&c);
	return r;
}

static int v_path(struct dp_server *srv, json_object *req, json_object **reply, struct st_error *err)
{
	struct v_call c;
	struct st_volume v;
	int r = v_begin(srv, &c, req, "VolumeDriver.Path", true, err);
	if (r >= 0 && (r = st_volume_inspect(c.s, c.name, &v, err)) < 0)
		st_error_wrap(err, "VolumeDriver.Path");
	if (r >= 0) {
		*reply = mountpoint(v.mountpoint);
		st_volume_free(&v);
	}
	v_end(&c);
	return r;
}

static json_object *volume_json(const struct st_volume *v, bool full)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "Name", json_object_new_string(v->name));
	json_object_object_add(o, "Mountpoint", json_object_new_string(v->mountpoint));
	if (!full)
		return o;
	char created[64] = "";
	time_t t = (time_t)v->created;
	struct tm tm;
	if (v->created > 0 && gmtime_r(&t, &tm))
		strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_object_add(o, "CreatedAt", json_object_new_string(created));
	json_object *st = json_object_new_object();
	json_object_object_add(st, "Driver", json_object_new_string(v->driver));
	for (size_t i = 0; i < v->status.n; i++)
		json_object_object_add(st, v->status.v[i].key, json_object_new_string(v->status.v[i].value));
	json_object_object_add(o, "Status", st);
	return o;
}

static int v_get(struct dp_server *srv, json_object *req, json_object **reply, struct st_error *err)
{
	struct v_call c;
	struct st_volume v;
	int r = v_begin(srv, &c, req, "VolumeDriver.Get", true, err);
	if (r >= 0 && (r = st_volume_inspect(c.s, c.name, &v, err)) < 0)
		st_error_wrap(err, "VolumeDriver.Get");
	if (r >= 0) {
		*reply = json_object_new_object();
		json_object_object_add(*reply, "Volume", volume_json(&v, true));
		st_volume_free(&v);
	}
	v_end(&c);
	return r;
}

/* The volumes of the drivers this plugin serves (not those of other
 * out-of-process plugins the store also knows). */
static int v_list(struct dp_server *srv, json_object *req, json_object **reply, struct st_error *err)
{
	struct v_call c;
	struct st_volume *v;
	size_t n;
	int r = v_begin(srv, &c, req, "VolumeDriver.List", false, err);
	if (r >= 0 && (r = st_volume_list(c.s, &v, &n, NULL, err)) < 0)
		st_error_wrap(err, "VolumeDriver.List");
	if (r >= 0) {
		json_object *a = json_object_new_array();
		for (size_t i = 0; i < n; i++) {
			const struct st_volume_driver_ops *ops = st_volume_driver_lookup(v[i].driver);
			if (ops && strcmp(ops->name, "plugin") != 0)
				json_object_array_add(a, volume_json(&v[i], false));
		}
		st_volume_list_free(v, n);
		*reply = json_object_new_object();
		json_object_object_add(*reply, "Volumes", a);
	}
	v_end(&c);
	return r;
}

static int v_capabilities(struct dp_server *srv, json_object *req, json_object **reply, struct st_error *err)
{
	json_object *caps = json_object_new_object();
	json_object_object_add(caps, "Scope", json_object_new_string("local"));
	*reply = json_object_new_object();
	json_object_object_add(*reply, "Capabilities", caps);
	return 0;
}

const struct dp_route dp_volume_routes[] = {
	{"/VolumeDriver.Create", v_create, NULL, NULL},
	{"/VolumeDriver.Remove", v_remove, NULL, NULL},
	{"/VolumeDriver.Mount", v_mount, NULL, NULL},
	{"/VolumeDriver.Unmount", v_unmount, NULL, NULL},
	{"/VolumeDriver.Path", v_path, NULL, NULL},
	{"/VolumeDriver.Get", v_get, NULL, NULL},
	{"/VolumeDriver.List", v_list, NULL, NULL},
	{"/VolumeDriver.Capabilities", v_capabilities, NULL, NULL},
	{NULL, NULL, NULL, NULL},
};
