/* core/container: containers on images (container*.c) and the OCI
 * runtime that runs them (runtime.c). */
#ifndef ST_CONTAINER_H
#define ST_CONTAINER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "strata.h"
#include "base/base.h"
#include "store/store.h"
#include "image/image.h"

/* ----------------------------------------------- the runtime (runtime.c) */

/* Running processes in containers through an OCI runtime (runc by default):
 * an OCI bundle is generated whose rootfs is a driver mount. */
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

/* ------------------------------------ the container store (container*.c) */

/* The container store: a container is a read-write layer (the "container
 * layer") on a small init layer on its image's top layer, a config, a state
 * and a log, under containers/<id>/. */
struct st_mount_spec {
	char *src;  /* host path (absolute) or volume name */
	char *dst;  /* path in the container */
	bool ro;
	bool volume; /* src names a volume */
};

struct st_container_opts {
	const char *name;              /* NULL: a generated name */
	const char *image;             /* reference */
	char **cmd;                    /* overrides the image's CMD */
	size_t ncmd;
	const char *entrypoint;        /* NULL: the image's; "" clears it */
	char **env;                    /* "K=V" added to the image's Env */
	size_t nenv;
	const char *workdir;
	const char *user;
	bool network_none;
	const char *runtime;
	struct st_mount_spec *mounts;
	size_t nmounts;
	const struct st_kvlist *labels; /* added to the image's labels (may be NULL) */
};

enum st_container_status { ST_CT_CREATED, ST_CT_RUNNING, ST_CT_EXITED };

struct st_container {
	char id[65];
	char name[129];
	char image[ST_DIGEST_LEN + 1];
	char image_ref[256];
	char rw_layer[80];
	char init_layer[80];
	int64_t created;
	enum st_container_status status;
	int exit_code;
	pid_t pid;
	int64_t started_at, finished_at;
	char *command; /* for ps */
	struct st_kvlist labels; /* Config.Labels: the image's and --label's */
};

int st_container_create(struct st_store *s, const struct st_container_opts *o, char id[65], struct st_error *err);
/* ref: name, id or unique id prefix */
int st_container_get(struct st_store *s, const char *ref, struct st_container *out, struct st_error *err);
void st_container_free(struct st_container *c);
int st_container_list(struct st_store *s, struct st_container **out, size_t *n, struct st_error *err);
/* st_container_list through docker's ps filters (st_filter_add pairs;
 * container_filter.c): id=, name= (regular expressions), label=KEY[=VALUE],
 * status=created|running|exited (also docker's restarting, removing,
 * paused, dead, which no container here is in), ancestor=IMAGE (made from
 * IMAGE or an image on its layers), exited=CODE. Without all only running
 * containers, unless a status filter is given (as docker). Unknown keys
 * and values are -EINVAL "invalid filter ..."; f may be NULL. */
int st_container_list_filtered(struct st_store *s, const struct st_kvlist *f, bool all, struct st_container **out,
			       size_t *n, struct st_error *err);
void st_container_list_free(struct st_container *v, size_t n);

/* Start: attached runs in the foreground (output to out/err fds and the
 * log), returns the exit code in *exit_code. Detached forks a monitor that
 * outlives this process and returns once the process runs. */
int st_container_start(struct st_store *s, const char *ref, bool attach, int out_fd, int err_fd,
		       int *exit_code, struct st_error *err);
int st_container_stop(struct st_store *s, const char *ref, int timeout, struct st_error *err);
int st_container_remove(struct st_store *s, const char *ref, bool force, struct st_error *err);
int st_container_changes(struct st_store *s, const char *ref, struct st_changes *out, struct st_error *err);
/* New image from the container's changes and config; tagged when name. */
int st_container_commit(struct st_store *s, const char *ref, const char *name, const char *comment,
			char id[ST_DIGEST_LEN + 1], struct st_error *err);
int st_container_export(struct st_store *s, const char *ref, struct st_writer *out, struct st_error *err);
int st_container_mount(struct st_store *s, const char *ref, char *path, size_t len, struct st_error *err);
int st_container_umount(struct st_store *s, const char *ref, struct st_error *err);
/* The log's records, stdout ones to out_fd, stderr ones to err_fd. */
int st_container_logs(struct st_store *s, const char *ref, int out_fd, int err_fd, struct st_error *err);
/* config.json of the container (for inspect), malloc'd JSON text. */
int st_container_inspect(struct st_store *s, const char *ref, char **json, struct st_error *err);

/* Finish removals that a killed process left half done (at store open). */
int st_container_store_recover(struct st_store *s, struct st_error *err);

/* Number of containers made from image id (0 if none); *first receives the
 * name of one of them (malloc'd) when there are some. */
int st_containers_using_image(struct st_store *s, const char *image_id, char **first);

/* Number of containers whose config mounts volume name (0 if none); *first
 * receives the name of one of them (malloc'd) when there are some. Stopped
 * containers count: their volumes are in use (as in Docker). */
int st_containers_using_volume(struct st_store *s, const char *name, char **first);

/* Is driver layer id the container layer or init layer of a container? */
bool st_container_owns_driver_layer(struct st_store *s, const char *id);

/* Holders "container:ID" (a container holds its image's top layer; it owns
 * its init and container layers, uses its image and volumes, and finishes
 * removals at open); registered by st_store_open. */
extern const struct st_holder_kind st_container_holders;

#endif
