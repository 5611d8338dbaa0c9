/* Creating a container: its name and id, the init layer (mount points and
 * placeholders on the image's top layer) and the container layer on it, its
 * config, under a lease until it is complete. */
#include <ctype.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "base/base.h"
#include "archive/archive.h"
#include "store/store.h"
#include "image/image.h"
#include "container/container.h"
#include "container_int.h"

/* -------------------------------------------------------------- names */

static const char *const adjectives[] = {
	"amber", "brave", "calm", "dazzling", "eager", "fervent", "gentle", "happy", "jolly", "keen",
	"lucid", "merry", "nifty", "optimistic", "quiet", "relaxed", "serene", "tender", "upbeat", "vibrant",
	"wizardly", "zealous", "bold", "clever", "daring", "epic", "frosty", "great", "hungry", "jovial"};
static const char *const nouns[] = {
	"babbage", "curie", "darwin", "euler", "fermat", "galois", "hopper", "johnson", "kepler", "lovelace",
	"mendel", "noether", "ostrom", "pascal", "ritchie", "shannon", "thompson", "turing", "volta", "wozniak",
	"yalow", "zuse", "bardeen", "cerf", "dijkstra", "engelbart", "feynman", "goldberg", "hamilton", "knuth"};

/* a name for a container given none, as docker's: adjective_scientist,
 * with a digit more on each retry after a taken one */
static void random_name(char name[129], unsigned retry)
{
	unsigned char rb[8] = {0};
	(void)!getrandom(rb, sizeof(rb), 0);
	int l = snprintf(name, 129, "%s_%s", adjectives[rb[0] % ST_ARRAY_SIZE(adjectives)],
			 nouns[rb[1] % ST_ARRAY_SIZE(nouns)]);
	for (unsigned i = 0; i < retry && i < 6; i++)
		l += snprintf(name + l, (size_t)(129 - l), "%u", rb[2 + i] % 10u);
}

static bool valid_name(const char *n)
{
	if (!n || !isalnum((unsigned char)n[0]) || strlen(n) > 128 || strlen(n) < 2)
		return false;
	for (const char *p = n; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_.-", *p))
			return false;
	return true;
}

/* ------------------------------------------------------------- create */

static json_object *strv_json(char *const *v, size_t n)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

static json_object *array_or_empty(json_object *cfgc, const char *key)
{
	json_object *v;
	if (cfgc && json_object_object_get_ex(cfgc, key, &v) && json_object_is_type(v, json_type_array))
		return json_object_get(v);
	return json_object_new_array();
}

/* Placeholders the runtime mounts over: they live in the init layer so the
 * container layer shows only what the container did. */
static int init_layer_fill(int rootfd, struct st_error *err)
{
	static const char *const dirs[] = {"/proc", "/sys", "/dev", "/dev/pts", "/dev/shm", "/etc"};
	static const char *const files[] = {"etc/hosts", "etc/hostname", "etc/resolv.conf"};
	int r;
	for (size_t i = 0; i < ST_ARRAY_SIZE(dirs); i++)
		if ((r = st_mkdir_in_root(rootfd, dirs[i], 0755, 0, 0, err)) < 0)
			return r;
	_cleanup_close_ int etc = st_open_in_root(rootfd, "/etc", O_RDONLY | O_DIRECTORY, 0);
	if (etc < 0)
		return st_error_set(err, -etc, "init layer: /etc");
	for (size_t i = 0; i < ST_ARRAY_SIZE(files); i++) {
		const char *base = files[i] + 4;
		struct stat st;
		if (fstatat(etc, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
			continue;
		if (fstatat(etc, base, &st, AT_SYMLINK_NOFOLLOW) == 0)
			unlinkat(etc, base, 0); /* e.g. a symlink to the host's resolver */
		int fd = openat(etc, base, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0)
			return st_error_set(err, errno, "init layer: /%s", files[i]);
		close(fd);
	}
	return 0;
}

static int write_text(int dfd, const char *name, const char *text, struct st_error *err)
{
	return st_atomic_write_at(dfd, name, text, strlen(text), 0644, err);
}

static int host_files(int cfd, const char *hostname, struct st_error *err)
{
	char hosts[512], hn[160];
	snprintf(hosts, sizeof(hosts),
		 "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t%s\n", hostname);
	snprintf(hn, sizeof(hn), "%s\n", hostname);
	_cleanup_free_ char *resolv = NULL;
	struct st_error e2;
	if (st_read_file_at(AT_FDCWD, "/etc/resolv.conf", &resolv, NULL, &e2) < 0)
		resolv = strdup("");
	int r = write_text(cfd, "hosts", hosts, err);
	if (r >= 0)
		r = write_text(cfd, "hostname", hn, err);
	if (r >= 0)
		r = write_text(cfd, "resolv.conf", resolv ? resolv : "", err);
	return r;
}

static json_object *mounts_json(const struct st_container_opts *o)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; i < o->nmounts; i++) {
		json_object *m = json_object_new_object();
		char anon[65];
		const char *src = o->mounts[i].src;
		if (!src) { /* an anonymous volume gets a random name, as in Docker */
			st_random_hex(anon, 32);
			src = anon;
		}
		json_object_object_add(m, "Type", json_object_new_string(o->mounts[i].volume ? "volume" : "bind"));
		json_object_object_add(m, o->mounts[i].volume ? "Name" : "Source", json_object_new_string(src));
		json_object_object_add(m, "Destination", json_object_new_string(o->mounts[i].dst));
		json_object_object_add(m, "RW", json_object_new_boolean(!o->mounts[i].ro));
		json_object_array_add(a, m);
	}
	return a;
}

static int check_opts(const struct st_container_opts *o, struct st_error *err)
{
	if (o->name && !valid_name(o->name))
		return st_error_fail(err, EINVAL, "invalid container name \"%s\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
				     o->name);
	for (size_t i = 0; i < o->nenv; i++)
		if (!strchr(o->env[i], '=') || o->env[i][0] == '=')
			return st_error_fail(err, EINVAL, "invalid environment variable \"%s\": expected KEY=VALUE", o->env[i]);
	for (size_t i = 0; i < o->nmounts; i++) {
		const struct st_mount_spec *m = &o->mounts[i];
		if (m->dst[0] != '/' || strstr(m->dst, "/../") || st_str_has_suffix(m->dst, "/.."))
			return st_error_fail(err, EINVAL, "invalid mount destination \"%s\": must be an absolute path", m->dst);
		if (!m->volume && (!m->src || m->src[0] != '/'))
			return st_error_fail(err, EINVAL, "invalid mount source \"%s\"", m->src);
		if (m->volume && m->src && !st_volume_name_valid(m->src))
			return st_error_fail(err, EINVAL,
					     "invalid volume name \"%.*s\": use [a-zA-Z0-9][a-zA-Z0-9_.-], at most %d characters",
					     ST_VOLUME_NAME_MAX + 1, m->src, ST_VOLUME_NAME_MAX);
		if (!m->volume) {
			struct stat st;
			if (stat(m->src, &st) < 0)
				return st_error_set(err, errno, "bind mount source \"%s\"", m->src);
		}
	}
	if (o->workdir && o->workdir[0] && o->workdir[0] != '/')
		return st_error_fail(err, EINVAL, "the working directory \"%s\" is invalid: it needs to be an absolute path",
				     o->workdir);
	return 0;
}

int st_container_create(struct st_store *s, const struct st_container_opts *o, char id[65], struct st_error *err)
{
	int r = check_opts(o, err);
	if (r < 0)
		return r;
	struct st_image img;
	if ((r = st_image_get(s, o->image, &img, err)) < 0)
		return r;
	_cleanup_json_ json_object *icfg = NULL;
	if ((r = st_json_parse(img.config, "image config", &icfg, err)) < 0) {
		st_image_free(&img);
		return r;
	}
	json_object *ic = NULL;
	json_object_object_get_ex(icfg, "config", &ic);
	st_random_hex(id, 32);
	char name[129];
	if (o->name)
		snprintf(name, sizeof(name), "%s", o->name);
	else
		random_name(name, 0);
	/* the command: entrypoint + cmd, as docker composes them */
	json_object *ep = o->entrypoint ? json_object_new_array() : array_or_empty(ic, "Entrypoint");
	if (o->entrypoint && o->entrypoint[0])
		json_object_array_add(ep, json_object_new_string(o->entrypoint));
	json_object *cmd = o->ncmd ? strv_json(o->cmd, o->ncmd)
				   : (o->entrypoint ? json_object_new_array() : array_or_empty(ic, "Cmd"));
	json_object *argv = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(ep); i++)
		json_object_array_add(argv, json_object_get(json_object_array_get_idx(ep, i)));
	for (size_t i = 0; i < json_object_array_length(cmd); i++)
		json_object_array_add(argv, json_object_get(json_object_array_get_idx(cmd, i)));
	if (json_object_array_length(argv) == 0) {
		json_object_put(ep);
		json_object_put(cmd);
		json_object_put(argv);
		st_image_free(&img);
		return st_error_fail(err, EINVAL, "no command specified: the image has no CMD or ENTRYPOINT");
	}
	json_object *env = array_or_empty(ic, "Env");
	for (size_t i = 0; i < o->nenv; i++)
		json_object_array_add(env, json_object_new_string(o->env[i]));

	_cleanup_json_ json_object *cfg = json_object_new_object();
	json_object *cc = json_object_new_object();
	json_object_object_add(cfg, "Id", json_object_new_string(id));
	json_object_object_add(cfg, "Name", json_object_new_string(name));
	json_object_object_add(cfg, "Created", json_object_new_int64(time(NULL)));
	json_object_object_add(cfg, "Image", json_object_new_string(img.id));
	json_object_object_add(cfg, "ImageRef", json_object_new_string(o->image));
	json_object_object_add(cfg, "Path", json_object_get(json_object_array_get_idx(argv, 0)));
	json_object *args = json_object_new_array();
	for (size_t i = 1; i < json_object_array_length(argv); i++)
		json_object_array_add(args, json_object_get(json_object_array_get_idx(argv, i)));
	json_object_object_add(cfg, "Args", args);
	json_object_object_add(cc, "Env", env);
	json_object_object_add(cc, "Entrypoint", ep);
	json_object_object_add(cc, "Cmd", cmd);
	const char *iwd = ic ? st_json_str(ic, "WorkingDir") : "";
	const char *iuser = ic ? st_json_str(ic, "User") : "";
	json_object_object_add(cc, "WorkingDir", json_object_new_string(o->workdir ? o->workdir : iwd));
	json_object_object_add(cc, "User", json_object_new_string(o->user ? o->user : iuser));
	char hostname[13];
	snprintf(hostname, sizeof(hostname), "%.12s", id);
	json_object_object_add(cc, "Hostname", json_object_new_string(hostname));
	json_object_object_add(cc, "StopSignal", json_object_new_string(ic ? st_json_str(ic, "StopSignal") : ""));
	/* the image's labels, then --label's over them (docker's) */
	json_object *labels = json_object_new_object(), *il;
	if (ic && json_object_object_get_ex(ic, "Labels", &il) && json_object_is_type(il, json_type_object)) {
		json_object_object_foreach(il, k, v)
		{
			json_object_object_add(labels, k, json_object_get(v));
		}
	}
	for (size_t i = 0; o->labels && i < o->labels->n; i++)
		json_object_object_add(labels, o->labels->v[i].key, json_object_new_string(o->labels->v[i].value));
	json_object_object_add(cc, "Labels", labels);
	json_object_object_add(cfg, "Config", cc);
	json_object_object_add(cfg, "Mounts", mounts_json(o));
	json_object_object_add(cfg, "NetworkMode", json_object_new_string(o->network_none ? "none" : "host"));
	json_object_object_add(cfg, "Runtime", json_object_new_string(o->runtime ? o->runtime : "runc"));
	char rwid[80], initid[80];
	snprintf(rwid, sizeof(rwid), "%s", id);
	snprintf(initid, sizeof(initid), "%s-init", id);
	json_object_object_add(cfg, "RWLayer", json_object_new_string(rwid));
	json_object_object_add(cfg, "InitLayer", json_object_new_string(initid));
	json_object_put(argv);

	/* layers first, under a lease: a kill leaves nothing behind */
	struct st_lease lease;
	if ((r = st_lease_new(s, &lease, err)) < 0) {
		st_image_free(&img);
		return r;
	}
	struct st_driver *d = st_store_driver(s);
	char pcache[130] = "", holder[80], tmp[96];
	snprintf(holder, sizeof(holder), "container:%s", id);
	snprintf(tmp, sizeof(tmp), ".tmp-%s", id);
	_cleanup_close_ int dfd = -1, cfd = -1;
	_cleanup_json_ json_object *state = NULL;
	int rootfd = -1;
	if (img.top[0]) {
		struct st_layer l;
		/* claimed and looked up under the store lock, under which a
		 * removal decides and removes: it either ran before (the lookup
		 * fails) or sees the claim (and keeps the layer we build on) */
		if ((r = st_store_lock(s, err)) < 0)
			goto out;
		if ((r = st_lease_add_layer(&lease, img.top, err)) >= 0)
			r = st_layer_get(s, img.top, &l, err);
		st_store_unlock(s);
		if (r < 0)
			goto out;
		snprintf(pcache, sizeof(pcache), "%s", l.cache_id);
		st_layer_free(&l);
	}
	if ((r = st_lease_add_driver_layer(&lease, initid, err)) < 0 ||
	    (r = st_lease_add_driver_layer(&lease, rwid, err)) < 0 ||
	    (r = st_drv_create(d, initid, pcache[0] ? pcache : NULL, true, NULL, err)) < 0)
		goto out;
	if ((r = st_drv_open_dir(d, initid, &rootfd, err)) < 0)
		goto out;
	r = init_layer_fill(rootfd, err);
	st_drv_release_dir(d, initid, &rootfd);
	if (r < 0 || (r = st_drv_create(d, rwid, initid, true, NULL, err)) < 0)
		goto out;
	/* then the record, published by a rename */
	if ((dfd = ct_dir(s, err)) < 0) {
		r = dfd;
		goto out;
	}
	if (mkdirat(dfd, tmp, 0700) < 0 || (cfd = st_open_nofollow(dfd, tmp, O_RDONLY | O_DIRECTORY, 0)) < 0) {
		r = st_error_set(err, errno, "create container directory");
		goto out;
	}
	state = json_object_new_object();
	json_object_object_add(state, "Status", json_object_new_string("created"));
	if ((r = st_json_save_at(cfd, "config.json", cfg, err)) < 0 || (r = st_json_save_at(cfd, "state.json", state, err)) < 0 ||
	    (r = host_files(cfd, hostname, err)) < 0)
		goto out;
	if ((r = st_store_lock(s, err)) < 0)
		goto out;
	for (unsigned retry = 1; ct_name_taken(s, name); retry++) {
		if (o->name || retry > 6) {
			st_store_unlock(s);
			r = st_error_fail(err, EEXIST, "the container name \"%s\" is already in use", name);
			goto out;
		}
		random_name(name, retry);
		json_object_object_add(cfg, "Name", json_object_new_string(name));
		if ((r = st_json_save_at(cfd, "config.json", cfg, err)) < 0) {
			st_store_unlock(s);
			goto out;
		}
	}
	if ((r = ct_name_link(dfd, name, id, err)) < 0) {
		st_store_unlock(s);
		goto out;
	}
	struct st_image again;
	if ((r = st_image_get(s, img.id, &again, err)) < 0) { /* removed meanwhile */
		st_store_unlock(s);
		goto out;
	}
	st_image_free(&again);
	if (img.top[0] && (r = st_layer_hold(s, img.top, holder, err)) < 0) {
		st_store_unlock(s);
		goto out;
	}
	if (renameat(dfd, tmp, dfd, id) < 0) {
		r = st_error_set(err, errno, "publish container %s", id);
		st_store_unlock(s);
		goto out;
	}
	st_fsync_dir(dfd);
	st_store_unlock(s);
	tmp[0] = '\0';
	st_lease_drop_driver_layer(&lease, rwid, err);
	st_lease_drop_driver_layer(&lease, initid, err);
out:
	if (r < 0) {
		struct st_error ignore;
		if (dfd >= 0 && tmp[0])
			st_rm_rf_at(dfd, tmp, &ignore);
		if (st_drv_exists(d, rwid))
			st_drv_remove(d, rwid, &ignore);
		if (st_drv_exists(d, initid))
			st_drv_remove(d, initid, &ignore);
	}
	st_lease_end(&lease);
	st_image_free(&img);
	return r;
}
