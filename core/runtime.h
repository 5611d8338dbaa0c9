/* Running processes in containers through an OCI runtime (runc by default):
 * an OCI bundle is generated whose rootfs is a driver mount. */
#ifndef ST_RUNTIME_H
#define ST_RUNTIME_H

#include <stdbool.h>
#include <sys/types.h>

#include "strata.h"

struct st_bind {
	char *src; /* host path */
	char *dst; /* path in the container */
	bool ro;
};

struct st_run_spec {
	const char *id;          /* runtime container id */
	const char *rootfs;      /* the mounted root filesystem */
	const char *bundle;      /* directory for config.json (created) */
	const char *runtime;     /* "runc" (default), a name in PATH or a path */
	const char *runtime_root;/* runc --root (state) */
	char *const *args;
	size_t nargs;
	char *const *env;        /* "K=V"; PATH and HOME are added when missing */
	size_t nenv;
	const char *cwd;         /* default "/" */
	const char *user;        /* "", "uid", "uid:gid", "name", "name:group" */
	const char *hostname;
	bool network_none;       /* own network namespace (loopback only) */
	const struct st_bind *binds;
	size_t nbinds;
};

/* Resolve the user against the rootfs's /etc/passwd and /etc/group. */
int st_resolve_user(int rootfd, const char *user, uid_t *uid, gid_t *gid, gid_t **groups,
		    size_t *ngroups, char *home, size_t homelen, struct st_error *err);

/* Write <bundle>/config.json for the spec. */
int st_bundle_write(const struct st_run_spec *sp, struct st_error *err);

/* Mount targets (binds, /proc, /dev, /sys...) that the runtime will create
 * in the rootfs because they are missing ("stubs"), with their parents'
 * times; st_runtime_stubs_clean removes them and puts the parents' times
 * back, so a build step's layer shows only what its command did. */
struct st_stubs {
	char **paths;
	size_t n;
	struct timespec (*parent_times)[2];
};
int st_runtime_stubs(const struct st_run_spec *sp, struct st_stubs *out);
void st_runtime_stubs_clean(const char *rootfs, struct st_stubs *st);

/* Run in the foreground and wait: the process's stdout/stderr go to out_fd
 * and err_fd (and, when log_fd >= 0, also to the log). *status gets the
 * exit code (128+signal when killed). pid_out (optional) receives the
 * runtime's pid as soon as it runs. */
int st_runtime_run(const struct st_run_spec *sp, int in_fd, int out_fd, int err_fd, int log_fd,
		   void (*started)(void *ctx, pid_t pid), void *ctx, int *status,
		   struct st_error *err);

/* Send a signal to a running container; delete its runtime state. */
int st_runtime_kill(const struct st_run_spec *sp, const char *signal, struct st_error *err);
int st_runtime_delete(const struct st_run_spec *sp, struct st_error *err);

#endif
