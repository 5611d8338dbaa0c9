/* System check of what stands on the layers: images and tags, containers,
 * build cache entries, volumes' users. */
#include <fcntl.h>
#include <sys/stat.h>

#include "base/base.h"
#include "store/store.h"
#include "image/image.h"
#include "volume/volume.h"
#include "container/container.h"
#include "builder/builder.h"
#include "system/system.h"
#include "check_int.h"

/* ------------------------------------------------------------ images */

bool ck_image_exists(struct ck *c, const char *id, char top[ST_DIGEST_LEN + 1])
{
	struct st_image img;
	struct st_error e;
	if (!st_valid_digest(id) || st_image_get(c->s, id, &img, &e) < 0)
		return false;
	snprintf(top, ST_DIGEST_LEN + 1, "%s", img.top);
	st_image_free(&img);
	return true;
}

void ck_scan_images(struct ck *c)
{
	int dfd;
	char **names;
	size_t n;
	struct st_error e;
	char what[200];
	if (ck_list_sub(c, "images", &dfd, &names, &n, &e) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		const char *nm = names[i];
		if (nm[0] == '.') {
			if (st_str_has_prefix(nm, ".tmp-") || st_str_has_prefix(nm, ".trash-"))
				ck_add(c, FIX_RM_AT, "images", nm, "image store",
				    "\"%s\" is an image left half %s by a killed process", nm,
				    nm[1] == 't' && nm[2] == 'm' ? "made" : "removed");
			continue;
		}
		c->nimages++;
		char id[ST_DIGEST_LEN + 8];
		snprintf(id, sizeof(id), "sha256:%s", nm);
		snprintf(what, sizeof(what), "image %s", id);
		char p[256];
		snprintf(p, sizeof(p), "%s/config.json", nm);
		_cleanup_free_ char *cfg = NULL;
		size_t len;
		if (st_read_file_at(dfd, p, &cfg, &len, &e) < 0) {
			ck_add(c, FIX_RECORD_REMOVE, "images", nm, what, "its config is unreadable: %s", e.msg);
			continue;
		}
		char got[ST_DIGEST_LEN + 1];
		st_sha256_buf(cfg, len, got);
		if (strcmp(got, id) != 0) {
			ck_add(c, FIX_NONE, NULL, NULL, what, "its config's digest is %s: the config was changed", got);
			continue;
		}
		_cleanup_json_ json_object *o = NULL;
		json_object *rootfs, *ids;
		if (st_json_parse(cfg, "image config", &o, &e) < 0 || !json_object_object_get_ex(o, "rootfs", &rootfs) ||
		    !json_object_object_get_ex(rootfs, "diff_ids", &ids) || !json_object_is_type(ids, json_type_array)) {
			ck_add(c, FIX_NONE, NULL, NULL, what, "its config has no rootfs.diff_ids");
			continue;
		}
		char chain[ST_DIGEST_LEN + 1] = "";
		bool missing = false;
		for (size_t k = 0; k < json_object_array_length(ids) && !missing; k++) {
			const char *d = json_object_get_string(json_object_array_get_idx(ids, k));
			char next[ST_DIGEST_LEN + 1];
			if (!st_valid_digest(d)) {
				ck_add(c, FIX_NONE, NULL, NULL, what, "its config has an invalid diff id \"%s\"", d ? d : "");
				missing = true;
				break;
			}
			st_chain_id(chain, d, next);
			memcpy(chain, next, sizeof(chain));
			if (!ck_find_layer(c, chain)) {
				ck_add(c, FIX_NONE, NULL, NULL, what,
				    "its layer %zu (%s) is missing: remove the image and load or build it again", k + 1, chain);
				missing = true;
			}
		}
		char holder[ST_DIGEST_LEN + 16];
		snprintf(holder, sizeof(holder), "image:%s", id);
		const struct st_layer *top = chain[0] ? ck_find_layer(c, chain) : NULL;
		if (!missing && top && !ck_has_holder(top, holder))
			ck_add(c, FIX_LAYER_HOLD, chain, holder, what, "does not hold its top layer %s", chain);
	}
	st_strv_free(names, n);
	close(dfd);

	/* tags */
	_cleanup_json_ json_object *repos = NULL;
	if (st_json_load_at(c->s->root_fd, "repositories.json", &repos, &e) == 0 &&
	    json_object_is_type(repos, json_type_object)) {
		json_object_object_foreach(repos, tag, v)
		{
			char top[ST_DIGEST_LEN + 1];
			const char *id = json_object_get_string(v);
			if (!ck_image_exists(c, id ? id : "", top)) {
				snprintf(what, sizeof(what), "tag %s", tag);
				ck_add(c, FIX_UNTAG, tag, NULL, what, "points to %s, which does not exist", id ? id : "nothing");
			}
		}
	} else if (ck_exists_at(c->s->root_fd, "repositories.json")) {
		ck_add(c, FIX_NONE, NULL, NULL, "tags", "\"%s/repositories.json\" is damaged: %s", c->s->root, e.msg);
	}
	/* the root's own atomic writes (repositories.json, strata.json) */
	if (ck_list_sub(c, "", &dfd, &names, &n, &e) == 0) {
		for (size_t i = 0; i < n; i++)
			if (st_str_has_prefix(names[i], ".tmp-"))
				ck_add(c, FIX_RM_AT, "", names[i], "store root", "\"%s\" is left over from an interrupted write",
				    names[i]);
		st_strv_free(names, n);
		close(dfd);
	}
}

/* -------------------------------------------------------- containers */

void ck_scan_containers(struct ck *c, struct st_container *cts, size_t ncts)
{
	int dfd;
	char **names;
	size_t n;
	struct st_error e;
	char what[200];
	if (ck_list_sub(c, "containers", &dfd, &names, &n, &e) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		const char *nm = names[i];
		bool trash = st_str_has_prefix(nm, ".trash-"), tmp = st_str_has_prefix(nm, ".tmp-");
		/* unclaimed and still there: a claim ends only after its
		 * directory is gone, so one that ended since the listing is no
		 * leftover */
		struct stat st;
		if ((trash || tmp) && !st_lease_claims_driver_layer(c->s, nm + (trash ? 7 : 5)) &&
		    fstatat(dfd, nm, &st, AT_SYMLINK_NOFOLLOW) == 0)
			ck_add(c, FIX_CONTAINERS_RECOVER, NULL, NULL, "container store",
			    "\"%s\" is a container whose %s was cut short", nm, trash ? "removal" : "creation");
		if (nm[0] == '.')
			continue;
		bool found = false;
		for (size_t k = 0; k < ncts; k++)
			found |= strcmp(cts[k].id, nm) == 0;
		if (!found) {
			snprintf(what, sizeof(what), "container %s", nm);
			ck_add(c, FIX_NONE, NULL, NULL, what, "its config is unreadable: remove \"%s/containers/%s\" by hand",
			    c->s->root, nm);
		}
	}
	st_strv_free(names, n);
	close(dfd);
	for (size_t i = 0; i < ncts; i++) {
		const struct st_container *ct = &cts[i];
		c->ncontainers++;
		snprintf(what, sizeof(what), "container %s (%s)", ct->id, ct->name);
		struct st_drv_record rw, init;
		bool has_rw = st_drv_record_get(c->d, ct->rw_layer, &rw, &e) == 0 && rw.data;
		bool has_init = st_drv_record_get(c->d, ct->init_layer, &init, &e) == 0 && init.data;
		if (!has_rw || !has_init) {
			ck_add(c, ct->status == ST_CT_RUNNING ? FIX_NONE : FIX_CONTAINER_REMOVE, ct->id, NULL, what,
			    "its %s layer %s is missing: the container is lost%s", has_rw ? "init" : "container",
			    has_rw ? ct->init_layer : ct->rw_layer, ct->status == ST_CT_RUNNING ? " (it is running: stop it)" : "");
			continue;
		}
		if (strcmp(rw.parent, ct->init_layer) != 0)
			ck_add(c, FIX_NONE, NULL, NULL, what, "its container layer stands on %s, not on its init layer %s",
			    rw.parent[0] ? rw.parent : "nothing", ct->init_layer);
		char top[ST_DIGEST_LEN + 1];
		if (!ck_image_exists(c, ct->image, top)) {
			ck_add(c, FIX_NONE, NULL, NULL, what, "its image %s does not exist", ct->image);
			continue;
		}
		const struct st_layer *tl = top[0] ? ck_find_layer(c, top) : NULL;
		if (tl && strcmp(init.parent, tl->cache_id) != 0)
			ck_add(c, FIX_NONE, NULL, NULL, what, "its init layer stands on %s, not on its image's top layer (%s)",
			    init.parent[0] ? init.parent : "nothing", tl->cache_id);
		char holder[100];
		snprintf(holder, sizeof(holder), "container:%s", ct->id);
		if (tl && !ck_has_holder(tl, holder))
			ck_add(c, FIX_LAYER_HOLD, tl->chain_id, holder, what, "does not hold its image's top layer %s",
			    tl->chain_id);
	}
}

/* ------------------------------------------------------- build cache */

void ck_scan_cache(struct ck *c)
{
	char what[200];
	for (size_t i = 0; i < c->ncache; i++) {
		const struct st_cache_entry *ce = &c->cache[i];
		snprintf(what, sizeof(what), "build cache entry %s", ce->key);
		if (ce->damaged) {
			char name[96];
			snprintf(name, sizeof(name), "%s.json", ce->key + 7);
			ck_add(c, FIX_CACHE_UNLINK, name, NULL, what, "is unreadable");
			continue;
		}
		if (!ce->top[0])
			continue;
		const struct st_layer *l = ck_find_layer(c, ce->top);
		char holder[ST_DIGEST_LEN + 16];
		snprintf(holder, sizeof(holder), "cache:%s", ce->key + 7);
		if (!l)
			ck_add(c, FIX_CACHE_DROP, ce->key, NULL, what, "its layer %s is gone", ce->top);
		else if (!ck_has_holder(l, holder))
			ck_add(c, FIX_LAYER_HOLD, l->chain_id, holder, what, "does not hold its layer %s", l->chain_id);
	}
	int dfd;
	char **names;
	size_t n;
	struct st_error e;
	if (ck_list_sub(c, "build-cache", &dfd, &names, &n, &e) == 0) {
		ck_leftover_temps(c, "build-cache", dfd, names, n);
		st_strv_free(names, n);
		close(dfd);
	}
}

/* ----------------------------------------------------------- volumes */

static bool is_hex64(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (; *s; s++)
		if (!strchr("0123456789abcdef", *s))
			return false;
	return true;
}

void ck_scan_volumes(struct ck *c, struct st_container *cts, size_t ncts)
{
	struct st_volume *v;
	size_t n;
	struct st_error e;
	if (st_volume_list(c->s, &v, &n, NULL, &e) < 0) {
		ck_add(c, FIX_NONE, NULL, NULL, "volume store", "cannot be listed: %s", e.msg);
		return;
	}
	char what[300];
	for (size_t i = 0; i < n; i++) {
		c->nvolumes++;
		for (size_t k = 0; k < v[i].nmount_ids; k++) {
			const char *mid = v[i].mount_ids[k];
			const struct st_container *ct = NULL;
			for (size_t j = 0; j < ncts && !ct; j++)
				if (strcmp(cts[j].id, mid) == 0)
					ct = &cts[j];
			snprintf(what, sizeof(what), "volume %s", v[i].name);
			if (ct && ct->status != ST_CT_RUNNING)
				ck_add(c, FIX_VOLUME_UNMOUNT, v[i].name, mid, what,
				    "is still mounted for container %s, which is not running", ct->name);
			else if (!ct && is_hex64(mid))
				ck_add(c, FIX_VOLUME_UNMOUNT, v[i].name, mid, what,
				    "is still mounted for container %s, which no longer exists", mid);
		}
	}
	st_volume_list_free(v, n);
}
