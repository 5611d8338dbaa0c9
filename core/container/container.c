/* The container store.
 *
 *   containers/<id>/config.json   what create decided (image, command, mounts, layers)
 *   containers/<id>/state.json    created | running (pid) | exited (code), written atomically
 *   containers/<id>/container.log stdout/stderr records (JSON lines)
 *   containers/<id>/{hosts,hostname,resolv.conf}  bind-mounted over the init layer's files
 *
 * Driver layers: "<id>-init" (mount points and placeholders, on the image's
 * top layer) and "<id>" (the container layer) on top of it. A container
 * holds its image's top layer with holder "container:<id>". */
#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "container/container.h"
#include "store/store.h"
#include "base/base.h"
#include "image/image.h"
#include "archive/archive.h"

void st_container_free(struct st_container *c)
{
	if (c) {
		free(c->command);
		c->command = NULL;
	}
}

void st_container_list_free(struct st_container *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		st_container_free(&v[i]);
	free(v);
}

static int cdir(struct st_store *s, struct st_error *err)
{
	return st_store_subdir(s, "containers", err);
}

/* -------------------------------------------------------------- names */

static const char *const adjectives[] = {
	"amber", "brave", "calm", "dazzling", "eager", "fervent", "gentle", "happy", "jolly", "keen",
	"lucid", "merry", "nifty", "optimistic", "quiet", "relaxed", "serene", "tender", "upbeat", "vibrant",
	"wizardly", "zealous", "bold", "clever", "daring", "epic", "frosty", "great", "hungry", "jovial"};
static const char *const nouns[] = {
	"babbage", "curie", "darwin", "euler", "fermat", "galois", "hopper", "johnson", "kepler", "lovelace",
	"mendel", "noether", "ostrom", "pascal", "ritchie", "shannon", "thompson", "turing", "volta", "wozniak",
	"yalow", "zuse", "bardeen", "cerf", "dijkstra", "engelbart", "feynman", "goldberg", "hamilton", "knuth"};

static bool valid_name(const char *n)
{
	if (!n || !isalnum((unsigned char)n[0]) || strlen(n) > 128 || strlen(n) < 2)
		return false;
	for (const char *p = n; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_.-", *p))
			return false;
	return true;
}

/* ----------------------------------------------------------- records */

static int load_json(struct st_store *s, const char *id, const char *file, json_object **o, struct st_error *err)
{
	_cleanup_close_ int dfd = cdir(s, err);
	if (dfd < 0)
		return dfd;
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", id, file);
	return st_json_load_at(dfd, p, o, err);
}

static int save_json(struct st_store *s, const char *id, const char *file, json_object *o, struct st_error *err)
{
	_cleanup_close_ int dfd = cdir(s, err);
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

static int fill(struct st_store *s, const char *id, struct st_container *c, struct st_error *err)
{
	memset(c, 0, sizeof(*c));
	_cleanup_json_ json_object *cfg = NULL, *st = NULL;
	int r = load_json(s, id, "config.json", &cfg, err);
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
	struct st_error e2;
	if (load_json(s, id, "state.json", &st, &e2) == 0)
		fill_state(c, st);
	return 0;
}

static int resolve(struct st_store *s, const char *ref, char id[65], struct st_error *err)
{
	if (!ref || !*ref)
		return st_error_fail(err, EINVAL, "empty container reference");
	_cleanup_close_ int dfd = cdir(s, err);
	if (dfd < 0)
		return dfd;
	char **names;
	size_t n;
	int r = st_list_dir(dfd, &names, &n);
	if (r < 0)
		return st_error_set(err, -r, "list containers");
	size_t hits = 0;
	for (size_t i = 0; i < n && hits < 2; i++) {
		if (names[i][0] == '.')
			continue;
		if (strcmp(names[i], ref) == 0) { /* a full id */
			snprintf(id, 65, "%s", names[i]);
			hits = 1;
			break;
		}
		char p[256];
		snprintf(p, sizeof(p), "%s/config.json", names[i]);
		_cleanup_json_ json_object *o = NULL;
		struct st_error e2;
		if (st_json_load_at(dfd, p, &o, &e2) == 0 && strcmp(st_json_str(o, "Name"), ref) == 0) {
			snprintf(id, 65, "%s", names[i]);
			hits = 1;
			break;
		}
	}
	for (size_t i = 0; i < n && !hits; i++)
		if (names[i][0] != '.' && strlen(ref) >= 3 && strncmp(names[i], ref, strlen(ref)) == 0 && hits++ == 0)
			snprintf(id, 65, "%s", names[i]);
	st_strv_free(names, n);
	if (hits == 0)
		return st_error_fail(err, ENOENT, "no such container: %s", ref);
	if (hits > 1)
		return st_error_fail(err, EINVAL, "container id prefix \"%s\" is ambiguous", ref);
	return 0;
}

int st_container_get(struct st_store *s, const char *ref, struct st_container *out, struct st_error *err)
{
	char id[65];
	int r = resolve(s, ref, id, err);
	return r < 0 ? r : fill(s, id, out, err);
}

int st_container_list(struct st_store *s, struct st_container **out, size_t *n, struct st_error *err)
{
	*out = NULL;
	*n = 0;
	_cleanup_close_ int dfd = cdir(s, err);
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
		if (names[i][0] != '.' && fill(s, names[i], &v[*n], &e2) == 0)
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
	_cleanup_close_ int dfd = cdir(s, &e);
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
		if (load_json(s, names[i], "config.json", &cfg, &e) < 0 || !json_object_object_get_ex(cfg, "Mounts", &mounts))
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
	if (load_json(s, cid, "config.json", &cfg, &e) < 0)
		return false;
	return !strcmp(st_json_str(cfg, "RWLayer"), id) || !strcmp(st_json_str(cfg, "InitLayer"), id);
}

static bool name_taken(struct st_store *s, const char *name)
{
	char id[65];
	struct st_error e;
	return resolve(s, name, id, &e) == 0;
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
	if (o->name) {
		snprintf(name, sizeof(name), "%s", o->name);
	} else {
		unsigned char rb[2] = {0, 0};
		(void)!getrandom(rb, 2, 0);
		snprintf(name, sizeof(name), "%s_%s", adjectives[rb[0] % ST_ARRAY_SIZE(adjectives)],
			 nouns[rb[1] % ST_ARRAY_SIZE(nouns)]);
	}
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
	if ((dfd = cdir(s, err)) < 0) {
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
	if (name_taken(s, name)) {
		st_store_unlock(s);
		r = st_error_fail(err, EEXIST, "the container name \"%s\" is already in use", name);
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

/* -------------------------------------------------------------- state */

static int set_state(struct st_store *s, const char *id, const char *status, pid_t pid, int code, struct st_error *err)
{
	_cleanup_json_ json_object *st = NULL;
	struct st_error e2;
	if (load_json(s, id, "state.json", &st, &e2) < 0)
		st = json_object_new_object();
	json_object_object_add(st, "Status", json_object_new_string(status));
	json_object_object_add(st, "Pid", json_object_new_int64(pid));
	json_object_object_add(st, "PidStart", json_object_new_int64(pid > 0 ? st_proc_start(pid) : 0));
	if (!strcmp(status, "running")) {
		json_object_object_add(st, "StartedAt", json_object_new_int64(time(NULL)));
		json_object_object_add(st, "ExitCode", json_object_new_int(0));
	}
	if (!strcmp(status, "exited")) {
		json_object_object_add(st, "ExitCode", json_object_new_int(code));
		json_object_object_add(st, "FinishedAt", json_object_new_int64(time(NULL)));
	}
	return save_json(s, id, "state.json", st, err);
}

struct started {
	struct st_store *s;
	const char *id;
	int notify_fd;
};

static void on_started(void *ctx, pid_t pid)
{
	struct started *st = ctx;
	struct st_error e;
	set_state(st->s, st->id, "running", pid, 0, &e);
	if (st->notify_fd >= 0) {
		(void)!write(st->notify_fd, "ok", 2);
		close(st->notify_fd);
		st->notify_fd = -1;
	}
}

/* ------------------------------------------------------------- start */

struct prepared {
	struct st_run_spec sp;
	char bundle[PATH_MAX], rtroot[PATH_MAX], rootfs[PATH_MAX];
	char hosts[PATH_MAX], hostname[PATH_MAX], resolv[PATH_MAX];
	char **args, **env;
	size_t nargs, nenv;
	struct st_bind *binds;
	size_t nbinds;
	char wd[PATH_MAX], user[256], runtime[PATH_MAX];
	char rwid[80];
	json_object *cfg;
};

static void prepared_free(struct prepared *p)
{
	st_strv_free(p->args, p->nargs);
	st_strv_free(p->env, p->nenv);
	for (size_t i = 0; i < p->nbinds; i++) {
		free(p->binds[i].src);
		free(p->binds[i].dst);
	}
	free(p->binds);
	if (p->cfg)
		json_object_put(p->cfg);
}

static int add_bind(struct prepared *p, const char *src, const char *dst, bool ro)
{
	struct st_bind *nb = realloc(p->binds, (p->nbinds + 1) * sizeof(*nb));
	if (!nb)
		return -ENOMEM;
	p->binds = nb;
	nb[p->nbinds].src = strdup(src);
	nb[p->nbinds].dst = strdup(dst);
	nb[p->nbinds].ro = ro;
	p->nbinds++;
	return 0;
}

/* A new, empty volume mounted over image content gets that content first,
 * as Docker does. */
static int volume_fill(const char *rootfs, const char *dst, const char *vpath, struct st_error *err)
{
	_cleanup_close_ int rootfd = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int vfd = open(vpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0 || vfd < 0)
		return 0;
	char **names;
	size_t n;
	if (st_list_dir(vfd, &names, &n) < 0)
		return 0;
	st_strv_free(names, n);
	if (n > 0)
		return 0;
	_cleanup_close_ int src = st_open_in_root(rootfd, dst, O_RDONLY | O_DIRECTORY, 0);
	if (src < 0)
		return 0;
	struct st_copy_opts o = {.merge = true};
	int r = st_copy_tree_opts(src, vfd, &o, err);
	return r < 0 ? st_error_wrap(err, "fill volume at %s with the image's content", dst) : 0;
}

/* Mount the container's volumes (created on demand with the local driver). */
static int volumes_mount(struct st_store *s, const char *id, json_object *mounts, const char *rootfs,
			 struct prepared *p, struct st_error *err)
{
	for (size_t i = 0; mounts && i < json_object_array_length(mounts); i++) {
		json_object *m = json_object_array_get_idx(mounts, i);
		if (strcmp(st_json_str(m, "Type"), "volume") != 0)
			continue;
		const char *name = st_json_str(m, "Name");
		struct st_volume v;
		struct st_error e2;
		int r;
		if (st_volume_inspect(s, name, &v, &e2) == 0)
			st_volume_free(&v);
		else if ((r = st_volume_create(s, NULL, name, NULL, NULL, err)) < 0)
			return r;
		char path[PATH_MAX];
		if ((r = st_volume_mount(s, name, id, path, sizeof(path), err)) < 0)
			return r;
		json_object *rw;
		bool ro = json_object_object_get_ex(m, "RW", &rw) && !json_object_get_boolean(rw);
		if ((r = volume_fill(rootfs, st_json_str(m, "Destination"), path, err)) < 0 ||
		    (r = add_bind(p, path, st_json_str(m, "Destination"), ro)) < 0)
			return r < 0 && r != -ENOMEM ? r : st_error_set(err, ENOMEM, "container %s", id);
	}
	return 0;
}

static void volumes_unmount(struct st_store *s, const char *id, json_object *cfg)
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

/* The bundle for a container whose layer is mounted at p->rootfs. */
static int prepare(struct st_store *s, const char *id, struct prepared *p, struct st_error *err)
{
	int r = load_json(s, id, "config.json", &p->cfg, err);
	if (r < 0)
		return r;
	json_object *cc, *v;
	json_object_object_get_ex(p->cfg, "Config", &cc);
	st_strv_push(&p->args, &p->nargs, st_json_str(p->cfg, "Path"));
	if (json_object_object_get_ex(p->cfg, "Args", &v))
		for (size_t i = 0; i < json_object_array_length(v); i++)
			st_strv_push(&p->args, &p->nargs, json_object_get_string(json_object_array_get_idx(v, i)));
	if (json_object_object_get_ex(cc, "Env", &v))
		for (size_t i = 0; i < json_object_array_length(v); i++)
			st_strv_push(&p->env, &p->nenv, json_object_get_string(json_object_array_get_idx(v, i)));
	snprintf(p->wd, sizeof(p->wd), "%s", st_json_str(cc, "WorkingDir"));
	snprintf(p->user, sizeof(p->user), "%s", st_json_str(cc, "User"));
	snprintf(p->runtime, sizeof(p->runtime), "%s", st_json_str(p->cfg, "Runtime"));
	snprintf(p->rwid, sizeof(p->rwid), "%s", st_json_str(p->cfg, "RWLayer"));
	snprintf(p->bundle, sizeof(p->bundle), "%s/containers/%s/bundle", st_store_root(s), id);
	snprintf(p->rtroot, sizeof(p->rtroot), "%s/runtime", st_store_root(s));
	static const char *const files[][2] = {{"hosts", "/etc/hosts"}, {"hostname", "/etc/hostname"},
					       {"resolv.conf", "/etc/resolv.conf"}};
	for (size_t i = 0; i < ST_ARRAY_SIZE(files); i++) {
		char src[PATH_MAX];
		snprintf(src, sizeof(src), "%s/containers/%s/%s", st_store_root(s), id, files[i][0]);
		if (add_bind(p, src, files[i][1], false) < 0)
			return st_error_set(err, ENOMEM, "container %s", id);
	}
	if (json_object_object_get_ex(p->cfg, "Mounts", &v)) {
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			json_object *m = json_object_array_get_idx(v, i), *rw;
			bool ro = json_object_object_get_ex(m, "RW", &rw) && !json_object_get_boolean(rw);
			if (strcmp(st_json_str(m, "Type"), "bind") == 0 &&
			    add_bind(p, st_json_str(m, "Source"), st_json_str(m, "Destination"), ro) < 0)
				return st_error_set(err, ENOMEM, "container %s", id);
		}
		if ((r = volumes_mount(s, id, v, p->rootfs, p, err)) < 0) {
			volumes_unmount(s, id, p->cfg);
			return r;
		}
	}
	struct st_run_spec sp = {
		.id = id, .rootfs = p->rootfs, .bundle = p->bundle, .runtime = p->runtime, .runtime_root = p->rtroot,
		.args = p->args, .nargs = p->nargs, .env = p->env, .nenv = p->nenv, .cwd = p->wd[0] ? p->wd : "/",
		.user = p->user, .hostname = st_json_str(cc, "Hostname"),
		.network_none = !strcmp(st_json_str(p->cfg, "NetworkMode"), "none"),
		.binds = p->binds, .nbinds = p->nbinds,
	};
	p->sp = sp;
	if ((r = st_mkdir_p_at(AT_FDCWD, p->rtroot, 0700, err)) < 0)
		return r;
	/* the working directory exists before the process starts in it */
	if (p->wd[0]) {
		_cleanup_close_ int rootfd = open(p->rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (rootfd < 0 || (r = st_mkdir_in_root(rootfd, p->wd, 0755, 0, 0, err)) < 0)
			return rootfd < 0 ? st_error_set(err, errno, "open \"%s\"", p->rootfs) : r;
	}
	return st_bundle_write(&p->sp, err);
}

static int open_log(struct st_store *s, const char *id)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/containers/%s/container.log", st_store_root(s), id);
	return open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
}

/* Run to the end, record the exit, unmount. */
static int run_and_record(struct st_store *s, const char *id, struct prepared *p, int out_fd, int err_fd,
			  int notify_fd, int *code, struct st_error *err)
{
	struct started st = {s, id, notify_fd};
	int log_fd = open_log(s, id);
	int r = st_runtime_run(&p->sp, -1, out_fd, err_fd, log_fd, on_started, &st, code, err);
	if (log_fd >= 0)
		close(log_fd);
	struct st_error e2;
	set_state(s, id, "exited", 0, r < 0 ? 127 : *code, &e2);
	volumes_unmount(s, id, p->cfg);
	st_drv_put(st_store_driver(s), p->rwid, &e2);
	return r;
}

/* An operation on a container (start, commit, rm) claims its container
 * layer under a lease, under the store lock and with the container still
 * there: rm and prune leave a claimed container alone, and a second start
 * or rm is refused meanwhile. A sweep never removes the layer of a
 * container that exists, so a killed start or commit takes nothing. */
static int claim(struct st_store *s, const struct st_container *c, struct st_lease *l, double wait_s,
		 struct st_error *err)
{
	int r = st_lease_new(s, l, err);
	if (r < 0)
		return r;
	double end = st_now() + wait_s;
	for (;;) {
		if ((r = st_store_lock(s, err)) < 0)
			break;
		_cleanup_close_ int dfd = cdir(s, err);
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

static int start_claimed(struct st_store *s, const struct st_container *c, bool attach, int out_fd, int err_fd,
			 int *exit_code, struct st_error *err);

int st_container_start(struct st_store *s, const char *ref, bool attach, int out_fd, int err_fd, int *exit_code,
		       struct st_error *err)
{
	struct st_container c;
	int r = st_container_get(s, ref, &c, err);
	if (r < 0)
		return r;
	st_container_free(&c);
	if (c.status == ST_CT_RUNNING)
		return st_error_fail(err, EBUSY, "container %s is already running", c.name);
	struct st_lease lease;
	if ((r = claim(s, &c, &lease, 0, err)) < 0)
		return r;
	r = start_claimed(s, &c, attach, out_fd, err_fd, exit_code, err);
	st_lease_end(&lease);
	return r;
}

static int start_claimed(struct st_store *s, const struct st_container *cp, bool attach, int out_fd, int err_fd,
			 int *exit_code, struct st_error *err)
{
	struct st_container c = *cp;
	int r;
	struct prepared p = {0};
	struct st_driver *d = st_store_driver(s);
	struct st_error e2;
	/* a runtime state left by a crash would block the id */
	struct st_run_spec stale = {.id = c.id, .runtime_root = p.rtroot};
	snprintf(p.rtroot, sizeof(p.rtroot), "%s/runtime", st_store_root(s));
	stale.runtime_root = p.rtroot;
	st_runtime_delete(&stale, &e2);
	/* a mount left by a monitor that was killed */
	while (st_drv_mount_count(d, c.rw_layer) > 0 && st_drv_put(d, c.rw_layer, &e2) == 0)
		;
	if ((r = st_drv_get(d, c.rw_layer, p.rootfs, sizeof(p.rootfs), err)) < 0)
		return r;
	if ((r = prepare(s, c.id, &p, err)) < 0) {
		st_drv_put(d, c.rw_layer, &e2);
		prepared_free(&p);
		return r;
	}
	if (attach) {
		r = run_and_record(s, c.id, &p, out_fd, err_fd, -1, exit_code, err);
		prepared_free(&p);
		return r;
	}
	/* detached: a monitor process outlives us and records the exit */
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		st_drv_put(d, c.rw_layer, &e2);
		prepared_free(&p);
		return st_error_set(err, errno, "container %s: pipe", c.name);
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		setsid();
		if (fork() != 0)
			_exit(0);
		int nul = open("/dev/null", O_RDWR);
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
		/* The monitor lives as long as the container: a lock the driver
		 * holds through an inherited file description would outlive the
		 * parent, so the driver takes its locks again as the monitor's. */
		if (d->ops->atfork_child)
			d->ops->atfork_child(d);
		int code = 0;
		struct st_error me;
		if (run_and_record(s, c.id, &p, -1, -1, pfd[1], &code, &me) < 0)
			(void)!write(pfd[1], me.msg, strlen(me.msg));
		_exit(0);
	}
	close(pfd[1]);
	prepared_free(&p);
	if (pid < 0) {
		close(pfd[0]);
		st_drv_put(d, c.rw_layer, &e2);
		return st_error_set(err, errno, "container %s: fork", c.name);
	}
	waitpid(pid, NULL, 0);
	char msg[1024];
	ssize_t n = read(pfd[0], msg, sizeof(msg) - 1);
	close(pfd[0]);
	if (n == 2 && !memcmp(msg, "ok", 2))
		return 0;
	msg[n > 0 ? n : 0] = '\0';
	return st_error_fail(err, EIO, "container %s did not start%s%s", c.name, n > 0 ? ": " : "", msg);
}

/* -------------------------------------------------------------- stop */

static int wait_exit(struct st_store *s, const char *id, double seconds)
{
	double end = st_now() + seconds;
	do {
		struct st_container c;
		struct st_error e;
		if (fill(s, id, &c, &e) < 0)
			return 0;
		st_container_free(&c);
		if (c.status != ST_CT_RUNNING)
			return 0;
		struct timespec ts = {0, 50000000};
		nanosleep(&ts, NULL);
	} while (st_now() < end);
	return -ETIMEDOUT;
}

int st_container_stop(struct st_store *s, const char *ref, int timeout, struct st_error *err)
{
	struct st_container c;
	int r = st_container_get(s, ref, &c, err);
	if (r < 0)
		return r;
	st_container_free(&c);
	if (c.status != ST_CT_RUNNING)
		return 0;
	_cleanup_json_ json_object *cfg = NULL;
	if ((r = load_json(s, c.id, "config.json", &cfg, err)) < 0)
		return r;
	json_object *cc;
	json_object_object_get_ex(cfg, "Config", &cc);
	const char *sig = cc ? st_json_str(cc, "StopSignal") : "";
	char rtroot[PATH_MAX];
	snprintf(rtroot, sizeof(rtroot), "%s/runtime", st_store_root(s));
	struct st_run_spec sp = {.id = c.id, .runtime = st_json_str(cfg, "Runtime"), .runtime_root = rtroot};
	struct st_error e2;
	st_runtime_kill(&sp, sig[0] ? sig : "TERM", &e2);
	if (wait_exit(s, c.id, timeout) == 0)
		return 0;
	if ((r = st_runtime_kill(&sp, "KILL", err)) < 0 && wait_exit(s, c.id, 0.1) == 0)
		return 0;
	if (wait_exit(s, c.id, 10) < 0)
		return st_error_fail(err, ETIMEDOUT, "container %s did not stop", c.name);
	return 0;
}

/* ------------------------------------------------------------- remove */

/* Remove what a (renamed) container directory names: its layers, its hold
 * on the image layer, then the directory. Idempotent: recovery reruns it. */
static int remove_leftovers(struct st_store *s, int dfd, const char *dir, struct st_error *err)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/config.json", dir);
	_cleanup_json_ json_object *cfg = NULL;
	struct st_driver *d = st_store_driver(s);
	struct st_error e2;
	if (st_json_load_at(dfd, p, &cfg, &e2) == 0) {
		const char *layers[] = {st_json_str(cfg, "RWLayer"), st_json_str(cfg, "InitLayer")};
		for (size_t i = 0; i < 2; i++) {
			if (!st_valid_id(layers[i]) || !st_drv_exists(d, layers[i]))
				continue;
			while (st_drv_mount_count(d, layers[i]) > 0 && st_drv_put(d, layers[i], &e2) == 0)
				;
			/* another strata process may have it mounted for a moment
			 * (the size `system df` or a prune reports): wait for it */
			double end = st_now() + 10;
			int r;
			while ((r = st_drv_remove(d, layers[i], err)) == -EBUSY && st_drv_mount_count(d, layers[i]) > 0 &&
			       st_now() < end) {
				struct timespec ts = {0, 50000000};
				nanosleep(&ts, NULL);
			}
			if (r < 0)
				return r;
		}
		volumes_unmount(s, st_json_str(cfg, "Id"), cfg);
		/* the hold on the image's top layer: looked up by holder, not
		 * through the image, which may be gone by the time a cut-short
		 * removal is finished (rmi does not see a renamed container) */
		char holder[80];
		snprintf(holder, sizeof(holder), "container:%s", st_json_str(cfg, "Id"));
		struct st_layer *v;
		size_t n;
		int r = st_layer_list(s, &v, &n, err);
		if (r < 0)
			return r;
		for (size_t i = 0; i < n && r >= 0; i++)
			for (size_t k = 0; k < v[i].nholders; k++)
				if (strcmp(v[i].holders[k], holder) == 0) {
					r = st_layer_release(s, v[i].chain_id, holder, err);
					break;
				}
		st_layer_list_free(v, n);
		if (r < 0)
			return r;
	}
	return st_rm_rf_at(dfd, dir, err);
}

int st_container_remove(struct st_store *s, const char *ref, bool force, struct st_error *err)
{
	struct st_container c;
	int r = st_container_get(s, ref, &c, err);
	if (r < 0)
		return r;
	st_container_free(&c);
	if (c.status == ST_CT_RUNNING) {
		if (!force)
			return st_error_fail(err, EBUSY,
					     "you cannot remove a running container %s: stop it first, or force remove (-f)",
					     c.name);
		if ((r = st_container_stop(s, c.id, 0, err)) < 0)
			return r;
	}
	_cleanup_close_ int dfd = cdir(s, err);
	if (dfd < 0)
		return dfd;
	/* the lease marks the removal as running (recovery leaves the renamed
	 * directory to us) and, if we are killed, has the container's layers
	 * removed by the next open */
	struct st_lease lease;
	if ((r = claim(s, &c, &lease, force ? 15 : 0, err)) < 0)
		return r;
	if (st_valid_id(c.init_layer) && (r = st_lease_add_driver_layer(&lease, c.init_layer, err)) < 0)
		goto out;
	char trash[128];
	snprintf(trash, sizeof(trash), ".trash-%s", c.id);
	if ((r = st_store_lock(s, err)) < 0)
		goto out;
	if (renameat(dfd, c.id, dfd, trash) < 0) {
		r = errno == ENOENT ? st_error_fail(err, ENOENT, "no such container: %s", c.name) /* removed meanwhile */
				    : st_error_set(err, errno, "remove container %s", c.name);
		st_store_unlock(s);
		goto out;
	}
	st_fsync_dir(dfd);
	st_store_unlock(s);
	/* the runtime's state of it, once it is ours to remove (a start of
	 * it would have claimed it) */
	char rtroot[PATH_MAX];
	snprintf(rtroot, sizeof(rtroot), "%s/runtime", st_store_root(s));
	struct st_run_spec sp = {.id = c.id, .runtime_root = rtroot};
	struct st_error e2;
	st_runtime_delete(&sp, &e2);
	r = remove_leftovers(s, dfd, trash, err);
out:
	st_lease_end(&lease);
	return r;
}

int st_container_store_recover(struct st_store *s, struct st_error *err)
{
	_cleanup_close_ int dfd = cdir(s, err);
	if (dfd < 0)
		return dfd;
	char **names;
	size_t n;
	int r = st_list_dir(dfd, &names, &n);
	if (r < 0)
		return st_error_set(err, -r, "list containers");
	for (size_t i = 0; i < n; i++) {
		struct st_error e2;
		bool trash = st_str_has_prefix(names[i], ".trash-"), tmp = st_str_has_prefix(names[i], ".tmp-");
		/* a create or remove that is still running has its layers leased */
		if ((trash || tmp) && st_lease_claims_driver_layer(s, names[i] + (trash ? 7 : 5)))
			continue;
		if (trash)
			remove_leftovers(s, dfd, names[i], &e2); /* busy: the next open retries */
		else if (tmp)
			st_rm_rf_at(dfd, names[i], &e2);
	}
	st_strv_free(names, n);
	return 0;
}

/* ------------------------------------------------------ diff and commit */

int st_container_changes(struct st_store *s, const char *ref, struct st_changes *out, struct st_error *err)
{
	struct st_container c;
	int r = st_container_get(s, ref, &c, err);
	if (r < 0)
		return r;
	st_container_free(&c);
	return st_drv_changes(st_store_driver(s), c.rw_layer, c.init_layer, out, err);
}

struct diff_thread {
	struct st_driver *d;
	const char *rw, *init;
	int fd;
	struct st_error err;
	int r;
};

static void *diff_writer(void *arg)
{
	struct diff_thread *t = arg;
	struct st_writer w;
	st_writer_fd(&w, &t->fd);
	t->r = st_drv_diff(t->d, t->rw, t->init, &w, &t->err);
	close(t->fd);
	return NULL;
}

int st_container_commit(struct st_store *s, const char *ref, const char *name, const char *comment,
			char id[ST_DIGEST_LEN + 1], struct st_error *err)
{
	struct st_container c;
	int r = st_container_get(s, ref, &c, err);
	if (r < 0)
		return r;
	char norm[300];
	if (name && (r = st_image_ref_normalize(name, norm, sizeof(norm), err)) < 0) {
		st_container_free(&c);
		return r;
	}
	struct st_image img;
	if ((r = st_image_get(s, c.image, &img, err)) < 0) {
		st_container_free(&c);
		return r;
	}
	_cleanup_json_ json_object *icfg = NULL, *ccfg = NULL;
	struct st_lease lease;
	char holder[64];
	struct st_layer l = {0};
	bool leased = false;
	if ((r = st_json_parse(img.config, "image config", &icfg, err)) < 0 ||
	    (r = load_json(s, c.id, "config.json", &ccfg, err)) < 0 || (r = claim(s, &c, &lease, 0, err)) < 0)
		goto out;
	leased = true;
	st_lease_holder(&lease, holder, sizeof(holder));
	/* the container's changes stream from the driver into a new layer */
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		r = st_error_set(err, errno, "commit");
		goto out;
	}
	struct diff_thread t = {.d = st_store_driver(s), .rw = c.rw_layer, .init = c.init_layer, .fd = p[1]};
	pthread_t th;
	if (pthread_create(&th, NULL, diff_writer, &t) != 0) {
		close(p[0]);
		close(p[1]);
		r = st_error_set(err, EAGAIN, "commit");
		goto out;
	}
	struct st_reader rd;
	st_reader_fd(&rd, &p[0]);
	r = st_layer_register(s, img.top[0] ? img.top : NULL, &rd, holder, &l, err);
	close(p[0]); /* a writer still going gets EPIPE */
	pthread_join(th, NULL);
	if (t.r < 0 && r >= 0) {
		*err = t.err;
		r = t.r;
	}
	if (r < 0)
		goto out;
	/* the config: the image's, with the container's command and settings */
	json_object *ic, *cc, *v, *rootfs, *ids, *hist;
	if (!json_object_object_get_ex(icfg, "config", &ic)) {
		ic = json_object_new_object();
		json_object_object_add(icfg, "config", ic);
	}
	json_object_object_get_ex(ccfg, "Config", &cc);
	static const char *const keys[] = {"Env", "Entrypoint", "Cmd", "WorkingDir", "User"};
	for (size_t i = 0; i < ST_ARRAY_SIZE(keys); i++)
		if (cc && json_object_object_get_ex(cc, keys[i], &v))
			json_object_object_add(ic, keys[i], json_object_get(v));
	if (!json_object_object_get_ex(icfg, "rootfs", &rootfs)) {
		rootfs = json_object_new_object();
		json_object_object_add(rootfs, "type", json_object_new_string("layers"));
		json_object_object_add(icfg, "rootfs", rootfs);
	}
	if (!json_object_object_get_ex(rootfs, "diff_ids", &ids)) {
		ids = json_object_new_array();
		json_object_object_add(rootfs, "diff_ids", ids);
	}
	json_object_array_add(ids, json_object_new_string(l.diff_id));
	char created[64];
	st_format_time(created, sizeof(created));
	json_object_object_add(icfg, "created", json_object_new_string(created));
	json_object_object_add(icfg, "container", json_object_new_string(c.id));
	if (!json_object_object_get_ex(icfg, "history", &hist)) {
		hist = json_object_new_array();
		json_object_object_add(icfg, "history", hist);
	}
	json_object *h = json_object_new_object();
	json_object_object_add(h, "created", json_object_new_string(created));
	json_object_object_add(h, "created_by", json_object_new_string(c.command ? c.command : ""));
	if (comment)
		json_object_object_add(h, "comment", json_object_new_string(comment));
	json_object_array_add(hist, h);
	r = st_image_create_json(s, icfg, name ? norm : NULL, id, err);
out:
	if (leased) /* the layer is made under the lease only */
		st_image_lease_done(s, &l, holder, &lease);
	st_image_free(&img);
	st_container_free(&c);
	return r;
}

/* ----------------------------------------------- export, mount, logs */

int st_container_export(struct st_store *s, const char *ref, struct st_writer *out, struct st_error *err)
{
	struct st_container c;
	int r = st_container_get(s, ref, &c, err);
	if (r < 0)
		return r;
	st_container_free(&c);
	int fd = -1;
	struct st_driver *d = st_store_driver(s);
	if ((r = st_drv_open_dir(d, c.rw_layer, &fd, err)) < 0)
		return r;
	r = st_archive_write_tree(fd, ST_WH_DELETE, out, err);
	st_drv_release_dir(d, c.rw_layer, &fd);
	return r;
}

int st_container_mount(struct st_store *s, const char *ref, char *path, size_t len, struct st_error *err)
{
	struct st_container c;
	int r = st_container_get(s, ref, &c, err);
	if (r < 0)
		return r;
	st_container_free(&c);
	return st_drv_get(st_store_driver(s), c.rw_layer, path, len, err);
}

int st_container_umount(struct st_store *s, const char *ref, struct st_error *err)
{
	struct st_container c;
	int r = st_container_get(s, ref, &c, err);
	if (r < 0)
		return r;
	st_container_free(&c);
	return st_drv_put(st_store_driver(s), c.rw_layer, err);
}

int st_container_logs(struct st_store *s, const char *ref, int out_fd, int err_fd, struct st_error *err)
{
	struct st_container c;
	int r = st_container_get(s, ref, &c, err);
	if (r < 0)
		return r;
	st_container_free(&c);
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/containers/%s/container.log", st_store_root(s), c.id);
	_cleanup_fclose_ FILE *f = fopen(p, "re");
	if (!f)
		return errno == ENOENT ? 0 : st_error_set(err, errno, "read log \"%s\"", p);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, f)) > 0) {
		json_object *o = json_tokener_parse(line), *v;
		if (!o)
			continue;
		if (json_object_object_get_ex(o, "log", &v)) {
			int fd = !strcmp(st_json_str(o, "stream"), "stderr") ? err_fd : out_fd;
			const char *t = json_object_get_string(v);
			size_t len = (size_t)json_object_get_string_len(v);
			while (len > 0) {
				ssize_t w = write(fd, t, len);
				if (w <= 0)
					break;
				t += w;
				len -= (size_t)w;
			}
		}
		json_object_put(o);
	}
	free(line);
	return 0;
}

int st_container_inspect(struct st_store *s, const char *ref, char **json, struct st_error *err)
{
	char id[65];
	int r = resolve(s, ref, id, err);
	if (r < 0)
		return r;
	_cleanup_json_ json_object *cfg = NULL;
	if ((r = load_json(s, id, "config.json", &cfg, err)) < 0)
		return r;
	struct st_container c;
	if ((r = fill(s, id, &c, err)) < 0)
		return r;
	json_object *st = json_object_new_object();
	static const char *const names[] = {"created", "running", "exited"};
	json_object_object_add(st, "Status", json_object_new_string(names[c.status]));
	json_object_object_add(st, "Running", json_object_new_boolean(c.status == ST_CT_RUNNING));
	json_object_object_add(st, "Pid", json_object_new_int(c.pid));
	json_object_object_add(st, "ExitCode", json_object_new_int(c.exit_code));
	json_object_object_add(st, "StartedAt", json_object_new_int64(c.started_at));
	json_object_object_add(st, "FinishedAt", json_object_new_int64(c.finished_at));
	json_object_object_add(cfg, "State", st);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/containers/%s/container.log", st_store_root(s), id);
	json_object_object_add(cfg, "LogPath", json_object_new_string(path));
	json_object_object_add(cfg, "Driver", json_object_new_string(st_store_driver(s)->ops->name));
	st_container_free(&c);
	*json = strdup(st_json_text(cfg, true));
	return *json ? 0 : st_error_set(err, ENOMEM, "inspect");
}
