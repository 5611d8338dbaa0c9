/* plugin: the adapter for out-of-process volume plugins speaking Docker's
 * VolumeDriver protocol, so that a plugin written for Docker works
 * unchanged. Opened under the plugin's own name (vd->name): init finds it
 * (discover.c) and activates it; every op is one call (client.c).
 *
 * As with Docker, the plugin sees Mount and Unmount for every mount id and
 * keeps its own count (ST_VOLUME_MOUNT_EACH_ID); the core still records
 * the ids, for remove and in-use. Options go to the plugin as they are. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "plugin.h"

struct vp {
	struct vp_client c;
	int scope; /* -1 until asked */
};

static int vp_init(struct st_volume_driver *vd, struct st_error *err)
{
	struct vp *p = calloc(1, sizeof(*p));
	if (!p)
		return st_error_set(err, ENOMEM, "volume plugin %s", vd->name);
	p->scope = -1;
	struct vp_endpoint ep;
	int r = vp_discover(vd->name, &ep, err);
	if (r >= 0 && (r = vp_client_init(&p->c, &ep, err)) >= 0 && (r = vp_activate(&p->c, err)) < 0)
		vp_client_free(&p->c);
	if (r < 0) {
		free(p);
		return r;
	}
	vd->priv = p;
	return 0;
}

static void vp_cleanup(struct st_volume_driver *vd)
{
	struct vp *p = vd->priv;
	if (p) {
		vp_client_free(&p->c);
		free(p);
	}
	vd->priv = NULL;
}

static json_object *vp_req(const char *name, const char *id)
{
	json_object *o = json_object_new_object();
	if (o && name)
		json_object_object_add(o, "Name", json_object_new_string(name));
	if (o && id)
		json_object_object_add(o, "ID", json_object_new_string(id));
	return o;
}

/* One call whose reply we only check for errors. */
static int vp_simple(struct st_volume_driver *vd, const char *method, json_object *req, struct st_error *err)
{
	struct vp *p = vd->priv;
	json_object *resp = NULL;
	if (!req)
		return st_error_set(err, ENOMEM, "volume plugin %s", vd->name);
	int r = vp_call(&p->c, method, req, &resp, err);
	json_object_put(req);
	if (resp)
		json_object_put(resp);
	return r;
}

static int vp_create(struct st_volume_driver *vd, const char *name, const struct st_kvlist *opts, struct st_error *err)
{
	json_object *req = vp_req(name, NULL);
	json_object *o = json_object_new_object();
	for (size_t i = 0; o && opts && i < opts->n; i++)
		json_object_object_add(o, opts->v[i].key, json_object_new_string(opts->v[i].value));
	if (req && o)
		json_object_object_add(req, "Opts", o);
	else
		json_object_put(o);
	return vp_simple(vd, "VolumeDriver.Create", req, err);
}

static int vp_remove(struct st_volume_driver *vd, const char *name, struct st_error *err)
{
	return vp_simple(vd, "VolumeDriver.Remove", vp_req(name, NULL), err);
}

/* Mount and Path answer {"Mountpoint": ...}. */
static int vp_mountpoint(struct st_volume_driver *vd, const char *method, const char *name, const char *id,
			 bool required, char *path, size_t len, struct st_error *err)
{
	struct vp *p = vd->priv;
	_cleanup_json_ json_object *req = vp_req(name, id);
	json_object *resp = NULL;
	if (!req)
		return st_error_set(err, ENOMEM, "volume plugin %s", vd->name);
	int r = vp_call(&p->c, method, req, &resp, err);
	if (r < 0)
		return r;
	const char *mp = st_json_str(resp, "Mountpoint");
	json_object *mpo;
	/* a NUL inside the JSON string would cut the path short of what the
	 * plugin said */
	bool nul = json_object_object_get_ex(resp, "Mountpoint", &mpo) && json_object_is_type(mpo, json_type_string) &&
		   (size_t)json_object_get_string_len(mpo) != strlen(mp);
	if (nul || (required && mp[0] != '/') || (mp[0] && mp[0] != '/') || strlen(mp) >= len) {
		r = st_error_fail(err, EPROTO, "volume plugin %s: /%s for \"%s\": %s \"%s\"", vd->name, method, name,
				  mp[0] ? "bad Mountpoint" : "no Mountpoint in the reply", mp);
	} else {
		snprintf(path, len, "%s", mp);
	}
	json_object_put(resp);
	return r;
}

static int vp_mount(struct st_volume_driver *vd, const char *name, const char *mount_id, char *path, size_t len,
		    struct st_error *err)
{
	return vp_mountpoint(vd, "VolumeDriver.Mount", name, mount_id, true, path, len, err);
}

static int vp_unmount(struct st_volume_driver *vd, const char *name, const char *mount_id, struct st_error *err)
{
	return vp_simple(vd, "VolumeDriver.Unmount", vp_req(name, mount_id), err);
}

static int vp_path(struct st_volume_driver *vd, const char *name, char *path, size_t len, struct st_error *err)
{
	path[0] = '\0';
	return vp_mountpoint(vd, "VolumeDriver.Path", name, NULL, false, path, len, err);
}

static int vp_get(struct st_volume_driver *vd, const char *name, struct st_kvlist *status, struct st_error *err)
{
	struct vp *p = vd->priv;
	_cleanup_json_ json_object *req = vp_req(name, NULL);
	_cleanup_json_ json_object *resp = NULL;
	if (!req)
		return st_error_set(err, ENOMEM, "volume plugin %s", vd->name);
	int r = vp_call(&p->c, "VolumeDriver.Get", req, &resp, err);
	if (r < 0)
		return r;
	json_object *vol, *st;
	if (!json_object_object_get_ex(resp, "Volume", &vol) || !json_object_is_type(vol, json_type_object))
		return st_error_fail(err, ENOENT, "volume plugin %s: no such volume: %s", vd->name, name);
	if (json_object_object_get_ex(vol, "Status", &st) && json_object_is_type(st, json_type_object)) {
		json_object_object_foreach(st, key, val)
		{
			const char *s = json_object_is_type(val, json_type_string)
						? json_object_get_string(val)
						: json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN);
			st_kvlist_add(status, key, "%s", s ? s : "");
		}
	}
	return 0;
}

static int vp_list(struct st_volume_driver *vd, char ***names, size_t *n, struct st_error *err)
{
	struct vp *p = vd->priv;
	*names = NULL;
	*n = 0;
	_cleanup_json_ json_object *req = json_object_new_object();
	_cleanup_json_ json_object *resp = NULL;
	int r = vp_call(&p->c, "VolumeDriver.List", req, &resp, err);
	if (r < 0)
		return r;
	json_object *vols;
	if (!json_object_object_get_ex(resp, "Volumes", &vols) || json_object_is_type(vols, json_type_null))
		return 0;
	if (!json_object_is_type(vols, json_type_array))
		return st_error_fail(err, EPROTO, "volume plugin %s: /VolumeDriver.List: \"Volumes\" is not a list",
				     vd->name);
	for (size_t i = 0; i < json_object_array_length(vols); i++) {
		const char *nm = st_json_str(json_object_array_get_idx(vols, i), "Name");
		if (*nm && st_strv_push(names, n, nm) < 0) {
			st_strv_free(*names, *n);
			*names = NULL;
			*n = 0;
			return st_error_set(err, ENOMEM, "volume plugin %s", vd->name);
		}
	}
	return 0;
}

static enum st_volume_scope vp_capabilities(struct st_volume_driver *vd)
{
	struct vp *p = vd->priv;
	if (p->scope < 0) {
		/* optional in the protocol: a plugin without it is local */
		_cleanup_json_ json_object *req = json_object_new_object();
		_cleanup_json_ json_object *resp = NULL;
		struct st_error e = {0};
		p->scope = ST_VOLUME_SCOPE_LOCAL;
		json_object *caps;
		if (vp_call(&p->c, "VolumeDriver.Capabilities", req, &resp, &e) == 0 &&
		    json_object_object_get_ex(resp, "Capabilities", &caps) &&
		    strcmp(st_json_str(caps, "Scope"), "global") == 0)
			p->scope = ST_VOLUME_SCOPE_GLOBAL;
	}
	return (enum st_volume_scope)p->scope;
}

const struct st_volume_driver_ops st_plugin_volume_driver = {
	.name = "plugin",
	.abi = ST_VOLUME_ABI,
	.flags = ST_VOLUME_MOUNT_EACH_ID | ST_VOLUME_ANY_OPTION,
	.init = vp_init,
	.cleanup = vp_cleanup,
	.create = vp_create,
	.remove = vp_remove,
	.mount = vp_mount,
	.unmount = vp_unmount,
	.path = vp_path,
	.get = vp_get,
	.list = vp_list,
	.capabilities = vp_capabilities,
};
