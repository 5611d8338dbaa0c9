/* Opening a store: its root, its lock, the driver choice (explicit, else
 * the one recorded, else the first that probes as supported) and the
 * recovery of whatever a killed process left half done. */
#include <fcntl.h>
#include <sys/file.h>

#include "base/base.h"
#include "archive/archive.h"
#include "store/store.h"
#include "store_int.h"

static bool home_has_layers(int rootfd, const char *name)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/.strata/layers", name);
	_cleanup_close_ int fd = st_open_nofollow(rootfd, p, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return false;
	char **names;
	size_t n;
	if (st_list_dir(fd, &names, &n) < 0)
		return false;
	bool any = false;
	for (size_t i = 0; i < n; i++)
		any |= names[i][0] != '.';
	st_strv_free(names, n);
	return any;
}

static int known_list(char *buf, size_t len)
{
	size_t n;
	const struct st_driver_ops *const *v = st_driver_registry(&n);
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i ? ", " : "", v[i]->name);
	return 0;
}

/* First driver of the registry that works on this root. */
static int pick_driver(struct st_store *s, char *name, size_t len, struct st_error *err)
{
	size_t n;
	const struct st_driver_ops *const *v = st_driver_registry(&n);
	char why[2048] = "";
	for (size_t i = 0; i < n; i++) {
		char home[PATH_MAX], reason[256] = "";
		snprintf(home, sizeof(home), "%s/%s", s->root, v[i]->name);
		if (st_driver_probe(v[i]->name, home, reason, sizeof(reason)) == 0) {
			snprintf(name, len, "%s", v[i]->name);
			return 0;
		}
		snprintf(why + strlen(why), sizeof(why) - strlen(why), "; %s: %s", v[i]->name, reason);
	}
	return st_error_fail(err, ENOTSUP, "no storage driver works on \"%s\"%s", s->root, why);
}

static int choose_driver(struct st_store *s, const struct st_store_config *cfg, char *name, size_t len,
			 bool *changed, struct st_error *err)
{
	_cleanup_json_ json_object *rec = NULL;
	struct st_error e2;
	const char *recorded = "";
	if (st_json_load_at(s->root_fd, "strata.json", &rec, &e2) == 0)
		recorded = st_json_str(rec, "driver");
	*changed = false;
	if (cfg->driver && *cfg->driver) {
		if (!st_driver_lookup(cfg->driver)) {
			char list[256];
			known_list(list, sizeof(list));
			return st_error_fail(err, EINVAL, "unknown storage driver \"%s\" (known: %s)", cfg->driver, list);
		}
		if (*recorded && strcmp(recorded, cfg->driver) != 0 && home_has_layers(s->root_fd, recorded))
			return st_error_fail(err, EEXIST,
					     "store \"%s\" holds layers of driver %s: use --storage-driver %s, or another --root",
					     s->root, recorded, recorded);
		snprintf(name, len, "%s", cfg->driver);
	} else if (*recorded && st_driver_lookup(recorded)) {
		snprintf(name, len, "%s", recorded);
	} else {
		int r = pick_driver(s, name, len, err);
		if (r < 0)
			return r;
	}
	*changed = strcmp(recorded, name) != 0;
	return 0;
}

static int save_choice(struct st_store *s, const char *name, struct st_error *err)
{
	_cleanup_json_ json_object *o = json_object_new_object();
	json_object_object_add(o, "driver", json_object_new_string(name));
	return st_json_save_at(s->root_fd, "strata.json", o, err);
}

/* Leftovers of writes that hold the store lock (which we hold now): image
 * directories half made or half removed, build cache entries and the
 * tags file cut short. */
static void sweep_locked_leftovers(struct st_store *s)
{
	static const char *const subs[] = {"images", "build-cache", ""};
	for (size_t i = 0; i < ST_ARRAY_SIZE(subs); i++) {
		int dfd = subs[i][0] ? st_open_nofollow(s->root_fd, subs[i], O_RDONLY | O_DIRECTORY, 0) : dup(s->root_fd);
		char **names;
		size_t n;
		if (dfd < 0 || st_list_dir_prefix(dfd, ".", &names, &n) < 0) {
			if (dfd >= 0)
				close(dfd);
			continue;
		}
		for (size_t k = 0; k < n; k++) {
			bool ours = subs[i][0] ? st_str_has_prefix(names[k], ".tmp-") || st_str_has_prefix(names[k], ".trash-")
					       : st_str_has_prefix(names[k], ".tmp-repositories.json-") ||
							 st_str_has_prefix(names[k], ".tmp-strata.json-");
			struct st_error e;
			if (ours)
				st_rm_rf_at(dfd, names[k], &e);
		}
		st_strv_free(names, n);
		close(dfd);
	}
}

int st_store_open_core(const struct st_store_config *cfg, struct st_store **out, struct st_error *err)
{
	int r = st_holder_kind_register(&st_lease_holders);
	if (r < 0)
		return st_error_set(err, -r, "register the holders \"lease:\"");
	const char *root = cfg->root && *cfg->root ? cfg->root : "/var/lib/strata";
	char absroot[PATH_MAX];
	if (root[0] != '/') {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd)))
			return st_error_set(err, errno, "store root \"%s\": current directory", root);
		snprintf(absroot, sizeof(absroot), "%s/%s", cwd, root);
		root = absroot;
	}
	if (strlen(root) > 1024)
		return st_error_fail(err, ENAMETOOLONG, "store root \"%.64s...\" is too long", root);
	struct st_store *s = calloc(1, sizeof(*s));
	if (!s)
		return st_error_set(err, ENOMEM, "store");
	s->lock_fd = -1;
	snprintf(s->root, sizeof(s->root), "%s", root);
	r = st_mkdir_p_at(AT_FDCWD, root, 0700, err);
	if (r < 0) {
		free(s);
		return st_error_wrap(err, "store root");
	}
	chmod(root, 0700);
	s->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->root_fd < 0) {
		r = st_error_set(err, errno, "open store root \"%s\"", root);
		free(s);
		return r;
	}
	if ((r = st_store_lock(s, err)) < 0)
		goto fail;
	char name[64], home[PATH_MAX];
	bool changed;
	if ((r = choose_driver(s, cfg, name, sizeof(name), &changed, err)) < 0)
		goto fail_locked;
	snprintf(home, sizeof(home), "%s/%s", s->root, name);
	if ((r = st_driver_open(name, home, cfg->storage_opt, &s->driver, err)) < 0)
		goto fail_locked;
	if (changed && (r = save_choice(s, name, err)) < 0)
		goto fail_locked;
	/* the lease sweep sets s->sweep when a lease's process is dead; the
	 * directories are swept only then, or when a holder of the store lock
	 * died: opening does not read every layer, image and container */
	if ((r = st_drv_recover(s->driver, err)) < 0 || (r = st_lease_sweep(s, err)) < 0)
		goto fail_locked;
	if (s->sweep) {
		if ((r = st_layer_store_recover(s, err)) < 0 || (r = st_holders_recover(s, err)) < 0)
			goto fail_locked;
		sweep_locked_leftovers(s);
		st_store_swept(s);
	}
	st_store_unlock(s);
	*out = s;
	return 0;
fail_locked:
	st_store_unlock(s);
fail:
	st_driver_close(s->driver);
	close(s->root_fd);
	free(s);
	return r;
}
