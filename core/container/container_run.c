/* Running a container: its state, start (the mounts, volumes and OCI
 * bundle, then runc in the foreground or under a detached monitor) and
 * stop. */
#include <fcntl.h>
#include <limits.h>
#include <sys/wait.h>
#include <time.h>

#include "base/base.h"
#include "archive/archive.h"
#include "store/store.h"
#include "image/image.h"
#include "container/container.h"
#include "container_int.h"

/* -------------------------------------------------------------- state */

static int set_state(struct st_store *s, const char *id, const char *status, pid_t pid, int code, struct st_error *err)
{
	_cleanup_json_ json_object *st = NULL;
	struct st_error e2;
	if (ct_load_json(s, id, "state.json", &st, &e2) < 0)
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
	return ct_save_json(s, id, "state.json", st, err);
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

/* The bundle for a container whose layer is mounted at p->rootfs. */
static int prepare(struct st_store *s, const char *id, struct prepared *p, struct st_error *err)
{
	int r = ct_load_json(s, id, "config.json", &p->cfg, err);
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
			ct_volumes_unmount(s, id, p->cfg);
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
	ct_volumes_unmount(s, id, p->cfg);
	st_drv_put(st_store_driver(s), p->rwid, &e2);
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
	if ((r = ct_claim(s, &c, &lease, 0, err)) < 0)
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
		if (ct_fill(s, id, &c, &e) < 0)
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
	if ((r = ct_load_json(s, c.id, "config.json", &cfg, err)) < 0)
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
