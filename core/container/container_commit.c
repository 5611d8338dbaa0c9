/* What a container gives back: its changes, a commit to a new image, an
 * export of its filesystem, a mount of it, its logs and its config. */

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>

#include "base/base.h"
#include "archive/archive.h"
#include "store/store.h"
#include "image/image.h"
#include "container/container.h"
#include "container_int.h"

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
	    (r = ct_load_json(s, c.id, "config.json", &ccfg, err)) < 0 || (r = ct_claim(s, &c, &lease, 0, err)) < 0)
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
	int r = ct_resolve(s, ref, id, err);
	if (r < 0)
		return r;
	_cleanup_json_ json_object *cfg = NULL;
	if ((r = ct_load_json(s, id, "config.json", &cfg, err)) < 0)
		return r;
	struct st_container c;
	if ((r = ct_fill(s, id, &c, err)) < 0)
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
