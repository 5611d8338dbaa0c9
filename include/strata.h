/* strata: container image storage.
 *
 * The public interface of libstrata: errors, the store, the storage-driver
 * interface (for driver authors and benchmarkers), the layer store.
 * Every fallible function returns 0 (or a non-negative count) on success and
 * a negative errno on failure, with `err` describing what failed and where.
 */
#ifndef STRATA_H
#define STRATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STRATA_VERSION "0.1.0"

/* ---------------------------------------------------------------- errors */

struct st_error {
	int code;        /* positive errno of the first failure */
	char msg[4096];  /* "outer context: inner context: what failed: strerror" */
};

/* Fill err with a message built from fmt and strerror(errnum); returns -errnum.
 * errnum 0 means "no system error text". err may be NULL. */
int st_error_set(struct st_error *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same without strerror text: for bad input, where errno words mislead. */
int st_error_fail(struct st_error *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prefix context to an existing message; returns -err->code. */
int st_error_wrap(struct st_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void st_error_clear(struct st_error *err);

/* ------------------------------------------------------ key/value lists */

struct st_kv {
	char *key;
	char *value;
};

struct st_kvlist {
	struct st_kv *v;
	size_t n;
};

int st_kvlist_add(struct st_kvlist *l, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Parse "key=value" and append; -EINVAL without '='. */
int st_kvlist_parse(struct st_kvlist *l, const char *kv, struct st_error *err);
const char *st_kvlist_get(const struct st_kvlist *l, const char *key);
void st_kvlist_free(struct st_kvlist *l);

/* "10G", "512M", "4096" -> bytes (binary units); -EINVAL on junk. */
int st_parse_size(const char *s, int64_t *out);
/* 12345678 -> "12.3MB" (decimal units, as docker prints sizes). */
void st_format_size(int64_t bytes, char *buf, size_t len);

/* ------------------------------------------------------------ I/O hooks */

/* A byte sink (tar output) and a byte source (tar input). */
struct st_writer {
	/* returns 0 or a negative errno; must write all of len */
	int (*write)(void *ctx, const void *buf, size_t len);
	void *ctx;
};

struct st_reader {
	/* returns bytes read, 0 at end, or a negative errno */
	ssize_t (*read)(void *ctx, void *buf, size_t len);
	void *ctx;
};

void st_writer_fd(struct st_writer *w, int *fd);
void st_reader_fd(struct st_reader *r, int *fd);

/* ---------------------------------------------------- changes (diff lists) */

enum st_change_kind { ST_CHANGE_ADD = 'A', ST_CHANGE_MODIFY = 'C', ST_CHANGE_DELETE = 'D' };

struct st_change {
	char *path; /* absolute inside the layer: "/etc/passwd" */
	char kind;  /* enum st_change_kind */
};

struct st_changes {
	struct st_change *v;
	size_t n, cap;
};

void st_changes_free(struct st_changes *c);

/* ----------------------------------------------------- storage drivers */

struct st_driver;
struct st_tar_in; /* a layer tar being applied (opaque; see st_archive_apply) */

struct st_create_opts {
	const struct st_kvlist *storage_opt; /* per-layer options, e.g. size= */
};

/* How a driver keeps deletions on disk. */
enum st_whiteout_format {
	ST_WH_DELETE,  /* real deletes (full-copy and snapshot drivers) */
	ST_WH_OVERLAY, /* 0/0 character devices, trusted.overlay.opaque=y */
	ST_WH_AUFS,    /* .wh.NAME files, .wh..wh..opq (the OCI names) */
};

struct st_driver_ops {
	const char *name;
	/* 0 when usable with its home directory `home`, else a negative errno and
	 * a human reason ("overlay is not supported over btrfs"). */
	int (*probe)(const char *home, char *reason, size_t len);
	int (*init)(struct st_driver *d, struct st_error *err);
	void (*cleanup)(struct st_driver *d);

	int (*create)(struct st_driver *d, const char *id, const char *parent,
		      const struct st_create_opts *o, struct st_error *err);
	int (*create_rw)(struct st_driver *d, const char *id, const char *parent,
			 const struct st_create_opts *o, struct st_error *err);
	int (*remove)(struct st_driver *d, const char *id, struct st_error *err);
	/* Mount (or locate) the layer; path receives its root. Counting is done by
	 * the core: get is called once for the first user, put after the last. */
	int (*get)(struct st_driver *d, const char *id, char *path, size_t len, struct st_error *err);
	int (*put)(struct st_driver *d, const char *id, struct st_error *err);
	bool (*exists)(struct st_driver *d, const char *id);
	/* Lines for `strata info`. */
	int (*status)(struct st_driver *d, struct st_kvlist *out);
	/* Per-layer facts for `inspect` (optional). */
	int (*metadata)(struct st_driver *d, const char *id, struct st_kvlist *out);

	/* Optional: NULL means the generic naive implementation (mount the layer
	 * and its parent and compare the trees). */
	int (*diff)(struct st_driver *d, const char *id, const char *parent,
		    struct st_writer *out, struct st_error *err);
	int (*changes)(struct st_driver *d, const char *id, const char *parent,
		       struct st_changes *out, struct st_error *err);
	int64_t (*apply_diff)(struct st_driver *d, const char *id, const char *parent,
			      struct st_tar_in *in, struct st_error *err);
	int64_t (*diff_size)(struct st_driver *d, const char *id, const char *parent,
			     struct st_error *err);
	/* Optional: make a finished read-write layer read-only in place. */
	int (*commit)(struct st_driver *d, const char *id, struct st_error *err);
	/* Optional: drop from an unmounted read-write layer what holds no
	 * change (overlay: directories only copied up), before its diff is
	 * taken for a commit. The merged view must stay the same. */
	int (*tidy)(struct st_driver *d, const char *id, struct st_error *err);

	/* --storage-opt keys accepted at init and per layer (NULL-terminated). */
	const char *const *init_options;
	const char *const *layer_options;
	/* How the layer's files keep deletions (for the naive paths). */
	enum st_whiteout_format whiteouts;
	/* Optional: called in a forked child that outlives its parent and goes
	 * on using the driver (a container's monitor). A lock held through an
	 * inherited open file description would outlive the parent: take such
	 * locks again on descriptions of the child's own. */
	void (*atfork_child)(struct st_driver *d);
};

struct st_driver {
	const struct st_driver_ops *ops;
	char home[4096];         /* <root>/<driver name>, 0700 */
	int home_fd;             /* O_PATH|O_DIRECTORY fd of home */
	struct st_kvlist opts;   /* --storage-opt given at init */
	void *priv;              /* the driver's own state */
	bool sweep;              /* at init: a kill may have left leftovers to sweep */
};

/* The registry: all drivers compiled in, in auto-selection priority order. */
const struct st_driver_ops *const *st_driver_registry(size_t *n);
const struct st_driver_ops *st_driver_lookup(const char *name);

/* Would driver `name` work with home directory `home`? 0, or a negative
 * errno and the reason. Leaves no directory behind that it made. */
int st_driver_probe(const char *name, const char *home, char *reason, size_t len);
/* Open a driver directly on a home directory (probe + init). */
int st_driver_open(const char *name, const char *home, const struct st_kvlist *opts,
		   struct st_driver **out, struct st_error *err);
void st_driver_close(struct st_driver *d);

/* The driver interface as callers use it: validates ids and options, keeps
 * the parent/child records and the on-disk mount counts, and falls back to
 * the naive diff where the driver has none. */
int st_drv_create(struct st_driver *d, const char *id, const char *parent, bool rw,
		  const struct st_kvlist *storage_opt, struct st_error *err);
int st_drv_remove(struct st_driver *d, const char *id, struct st_error *err);
int st_drv_get(struct st_driver *d, const char *id, char *path, size_t len, struct st_error *err);
int st_drv_put(struct st_driver *d, const char *id, struct st_error *err);
bool st_drv_exists(struct st_driver *d, const char *id);
int st_drv_parent(struct st_driver *d, const char *id, char *parent, size_t len, struct st_error *err);
bool st_drv_is_rw(struct st_driver *d, const char *id);
int st_drv_mount_count(struct st_driver *d, const char *id);
int st_drv_list(struct st_driver *d, char ***ids, size_t *n, struct st_error *err);
int st_drv_diff(struct st_driver *d, const char *id, const char *parent,
		struct st_writer *out, struct st_error *err);
int st_drv_changes(struct st_driver *d, const char *id, const char *parent,
		   struct st_changes *out, struct st_error *err);
int64_t st_drv_apply(struct st_driver *d, const char *id, const char *parent,
		     struct st_reader *in, struct st_error *err);
int64_t st_drv_diff_size(struct st_driver *d, const char *id, const char *parent,
			 struct st_error *err);
/* rw -> committed; in place where the driver can. */
int st_drv_commit(struct st_driver *d, const char *id, struct st_error *err);
/* What the driver's tidy op drops from a read-write layer nobody has
 * mounted; 0 for drivers without one. */
int st_drv_tidy(struct st_driver *d, const char *id, struct st_error *err);
int st_drv_status(struct st_driver *d, struct st_kvlist *out);

bool st_valid_id(const char *id);

/* ----------------------------------------------------- volume drivers */

/* Separate from storage drivers: persistent data that outlives containers.
 * A volume driver is one ops table; docs/volume-plugins.md is the guide.
 *
 * The core (st_volume_*) validates names and options, keeps the volume
 * records and counts users per mount id on disk, under a per-volume lock:
 * a driver's ops are never called concurrently for one volume, and mount is
 * called for the first user only, unmount after the last (unless the driver
 * sets ST_VOLUME_MOUNT_EACH_ID). Every op returns 0 or a negative errno and
 * fills err with a message naming the volume. */
enum st_volume_scope { ST_VOLUME_SCOPE_LOCAL, ST_VOLUME_SCOPE_GLOBAL };

/* Bumped when struct st_volume_driver_ops or struct st_volume_driver change
 * incompatibly; C plugins are refused unless built against the same. */
#define ST_VOLUME_ABI 1

/* Volume names: [a-zA-Z0-9][a-zA-Z0-9_.-]+, at most this long. */
#define ST_VOLUME_NAME_MAX 200
/* Mount ids (a container id, "build-123", ...): the same alphabet, 1-128. */
#define ST_VOLUME_MOUNT_ID_MAX 128

enum st_volume_driver_flags {
	/* Call mount/unmount for every mount id, not just the first and the
	 * last: for drivers that count users themselves (Docker plugins). */
	ST_VOLUME_MOUNT_EACH_ID = 1u << 0,
	/* Create takes any option (NULL create_options means none at all). */
	ST_VOLUME_ANY_OPTION = 1u << 1,
};

struct st_volume_driver;

struct st_volume_driver_ops {
	const char *name;   /* what `-d NAME` selects */
	unsigned abi;       /* ST_VOLUME_ABI */
	unsigned flags;     /* enum st_volume_driver_flags */
	/* Option keys create accepts (NULL-terminated); unknown keys are refused
	 * by the core before create is called. */
	const char *const *create_options;

	/* Optional. Called once per open driver, before any other op; vd->home
	 * exists (0700) and vd->priv is NULL. */
	int (*init)(struct st_volume_driver *vd, struct st_error *err);
	void (*cleanup)(struct st_volume_driver *vd);

	/* Make the volume; the driver persists what it needs of opts. */
	int (*create)(struct st_volume_driver *vd, const char *name, const struct st_kvlist *opts,
		      struct st_error *err);
	/* Delete the volume and its data. Never called while it is mounted. */
	int (*remove)(struct st_volume_driver *vd, const char *name, struct st_error *err);
	/* Make the volume's data reachable at a host path, written to path.
	 * Should be idempotent: after a crash the core may call it again for a
	 * volume that is still mounted. */
	int (*mount)(struct st_volume_driver *vd, const char *name, const char *mount_id,
		     char *path, size_t len, struct st_error *err);
	int (*unmount)(struct st_volume_driver *vd, const char *name, const char *mount_id,
		       struct st_error *err);
	/* Where the data is (or would be) when mounted; "" when unknown. */
	int (*path)(struct st_volume_driver *vd, const char *name, char *path, size_t len,
		    struct st_error *err);
	/* -ENOENT when the driver has no such volume; status receives key/value
	 * facts shown by `volume inspect` (optional, may stay empty). */
	int (*get)(struct st_volume_driver *vd, const char *name, struct st_kvlist *status,
		   struct st_error *err);
	/* The names of all volumes the driver has (malloc'd strings and array). */
	int (*list)(struct st_volume_driver *vd, char ***names, size_t *n, struct st_error *err);
	/* Optional (NULL means local). */
	enum st_volume_scope (*capabilities)(struct st_volume_driver *vd);
};

struct st_volume_driver {
	const struct st_volume_driver_ops *ops;
	char name[64];      /* the name it was opened as (a plugin's own name) */
	char root[4096];    /* the store root */
	char home[4096];    /* <root>/volumes (local) or <root>/volume-drivers/<name> */
	int home_fd;        /* O_RDONLY|O_DIRECTORY fd of home */
	void *priv;         /* the driver's own state */
};

/* C plugins: a shared object that exports
 *
 *     int strata_volume_plugin_init(struct st_volume_plugin_host *host);
 *
 * and calls host->register_driver(host, &ops) once per driver it brings.
 * Plugins are loaded from $STRATA_VOLUME_PLUGIN_PATH (colon-separated
 * directories), else /usr/local/lib/strata/volume-plugins and
 * /usr/lib/strata/volume-plugins: every *.so there that is owned by root
 * and not writable by group or others. */
#define ST_VOLUME_PLUGIN_ENTRY "strata_volume_plugin_init"

struct st_volume_plugin_host {
	unsigned abi; /* ST_VOLUME_ABI of the loading strata */
	int (*register_driver)(struct st_volume_plugin_host *host, const struct st_volume_driver_ops *ops);
	/* st_error_fail and st_error_set, for plugins that do not link
	 * libstrata (the strata command links it statically): keep host. */
	int (*error_fail)(struct st_error *err, int errnum, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));
	int (*error_set)(struct st_error *err, int errnum, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));
	void *priv;
};
typedef int (*st_volume_plugin_init_fn)(struct st_volume_plugin_host *host);

/* Compiled-in drivers (local, nfs, plugin) and loaded C plugins. "plugin"
 * is the Docker-protocol adapter: any other name is looked up as an
 * out-of-process plugin when opened. */
const struct st_volume_driver_ops *st_volume_driver_lookup(const char *name);
/* Load one C plugin now (besides the automatic directory scan). */
int st_volume_plugin_load(const char *path, struct st_error *err);
/* Add a driver from the calling program itself (embedders, tests). */
int st_volume_driver_register(const struct st_volume_driver_ops *ops, struct st_error *err);

/* [a-zA-Z0-9][a-zA-Z0-9_.-]+, at most ST_VOLUME_NAME_MAX */
bool st_volume_name_valid(const char *name);
bool st_volume_mount_id_valid(const char *id);

/* ---------------------------------------------------------- the store */

struct st_store;

struct st_store_config {
	const char *root;               /* default /var/lib/strata */
	const char *driver;             /* NULL: recorded choice, else first supported */
	const struct st_kvlist *storage_opt;
};

int st_store_open(const struct st_store_config *cfg, struct st_store **out, struct st_error *err);
void st_store_close(struct st_store *s);
struct st_driver *st_store_driver(struct st_store *s);
const char *st_store_root(struct st_store *s);
int st_store_root_fd(struct st_store *s);

/* --------------------------------------------------------- layer store */

#define ST_DIGEST_LEN 71 /* "sha256:" + 64 hex */

struct st_layer {
	char chain_id[ST_DIGEST_LEN + 1];
	char diff_id[ST_DIGEST_LEN + 1];
	char parent[ST_DIGEST_LEN + 1]; /* chain id of the parent or "" */
	char cache_id[129];             /* the driver's layer id */
	int64_t size;                   /* bytes the layer adds (diff size) */
	int64_t tar_size;               /* bytes of its uncompressed tar */
	int64_t created;                /* unix seconds */
	char **holders;                 /* who keeps it alive */
	size_t nholders;
	bool tar_split;                 /* registered from a tar: tar-split.gz keeps its exact bytes */
};

void st_layer_free(struct st_layer *l);

/* Register a layer tar (plain or compressed) on top of parent (chain id or
 * NULL); `holder` names who keeps it ("image:...", "user"). Hashes while
 * applying; an existing layer with the same chain id is reused. */
int st_layer_register(struct st_store *s, const char *parent, struct st_reader *in,
		      const char *holder, struct st_layer *out, struct st_error *err);
/* Turn the driver's read-write layer rw_id (whose parent is parent's cache
 * id) into a registered layer, in place where the driver can. rw_id is
 * consumed: it is committed or removed. */
int st_layer_commit_rw(struct st_store *s, const char *parent, const char *rw_id,
		       const char *holder, struct st_layer *out, struct st_error *err);
int st_layer_get(struct st_store *s, const char *chain_id, struct st_layer *out,
		 struct st_error *err);
int st_layer_hold(struct st_store *s, const char *chain_id, const char *holder,
		  struct st_error *err);
/* Drop a holder; a layer without holders or children is removed, then its
 * parents the same way. */
int st_layer_release(struct st_store *s, const char *chain_id, const char *holder,
		     struct st_error *err);
/* The layer's tar, byte for byte as registered (its digest is the diff id). */
int st_layer_tar(struct st_store *s, const char *chain_id, struct st_writer *out,
		 struct st_error *err);
int st_layer_list(struct st_store *s, struct st_layer **out, size_t *n, struct st_error *err);
void st_layer_list_free(struct st_layer *v, size_t n);

/* -------------------------------------------------------- holder table */

/* A layer's holders are names, "PREFIX:NAME" ("image:sha256:...",
 * "container:ID", "cache:KEY", "lease:NAME"; "user" has no kind). The
 * store knows nothing of images or containers: what it needs to know about
 * a holder it asks the kind registered for the holder's prefix (system
 * check: is the holder still backed by what it names; a dead operation's
 * sweep: has something taken its driver layer over). Images, containers,
 * the build cache and leases register theirs; an embedder may register
 * kinds of its own. Holders of no registered kind count as backed. */
struct st_holder_kind {
	const char *prefix;   /* holders are "PREFIX:NAME"; [a-z0-9_-]+ */
	/* Is holder NAME of this kind still backed by what it names, and does
	 * it hold layer CHAIN_ID? true, or false with a human reason in why
	 * ("names an image that does not exist"; for system check). */
	bool (*holds_layer)(struct st_store *s, const char *name, const char *chain_id, char *why, size_t len);
	/* Does something of this kind own driver layer DRIVER_ID directly (not
	 * through the layer store, as a container its read-write layers)? May
	 * be NULL. */
	bool (*owns_driver_layer)(struct st_store *s, const char *driver_id);
	/* Optional: how many things of this kind use OBJECT, a thing of another
	 * kind named as a holder is ("image:ID", "volume:NAME"): what they use
	 * is not removed. *first receives the name of one (malloc'd, may stay
	 * NULL). */
	int (*uses)(struct st_store *s, const char *object, char **first);
	/* Optional: finish what a killed process left half done, at store open
	 * (under the store lock, after the layer store's own recovery). */
	int (*recover)(struct st_store *s, struct st_error *err);
};

/* Add a kind to the process-wide table (the kind must stay valid). 0, also
 * when this kind is registered already; -EEXIST when another kind has the
 * prefix, -EINVAL for a bad prefix or no holds_layer, -ENOSPC when the
 * table (32 kinds) is full. st_store_open registers the built-in kinds. */
int st_holder_kind_register(const struct st_holder_kind *kind);

/* --------------------------------------------------------- image store */

/* An image is an OCI image config (JSON bytes); its id is the sha256 of
 * those bytes. It holds its top layer (chain id of rootfs.diff_ids). */
struct st_image {
	char id[ST_DIGEST_LEN + 1];
	char top[ST_DIGEST_LEN + 1]; /* chain id of the top layer, "" for none */
	char *config;                /* the config JSON, exactly as stored */
	size_t config_len;
	int64_t created;             /* unix seconds, from the config */
	int64_t size;                /* sum of its layers' sizes */
	char **tags;                 /* "name:tag" */
	size_t ntags;
	char **digests;              /* "name@sha256:..." (RepoDigests: pulled or pushed manifests) */
	size_t ndigests;
};

void st_image_free(struct st_image *img);

/* Store an image config (its layers must be registered). Idempotent. */
int st_image_create(struct st_store *s, const char *config, size_t len,
		    char id[ST_DIGEST_LEN + 1], struct st_error *err);
/* ref: "name[:tag]", "name@sha256:<hex>" (a repository digest), "sha256:<hex>",
 * "<hex>" or a unique hex prefix. */
int st_image_get(struct st_store *s, const char *ref, struct st_image *out, struct st_error *err);
int st_image_list(struct st_store *s, struct st_image **out, size_t *n, struct st_error *err);
void st_image_list_free(struct st_image *v, size_t n);
/* Point "name[:tag]" (default tag latest) at the image. */
int st_image_tag(struct st_store *s, const char *ref, const char *name, struct st_error *err);
/* Docker's rmi: a tag reference removes that tag, and the image when no
 * tag is left; an id removes the image (refused while it has several tags
 * unless force). Refused while a container uses the image. Prints nothing;
 * untagged/deleted receive what was done ("Untagged: x", "Deleted: id"). */
int st_image_remove(struct st_store *s, const char *ref, bool force, char ***done, size_t *ndone,
		    struct st_error *err);
/* Normalise "name[:tag]" to "name:tag"; -EINVAL with a reason if invalid. */
int st_image_ref_normalize(const char *ref, char *out, size_t len, struct st_error *err);
/* A digest reference "name[:tag]@sha256:<hex>" normalised to docker's
 * familiar "name@sha256:<hex>" (the tag dropped, as docker stores it): 1;
 * 0 when ref has no "@" (out untouched); -EINVAL when it is no valid one. */
int st_image_ref_digest(const char *ref, char *out, size_t len, struct st_error *err);
/* Record repository digest ref ("name@sha256:<hex>") for the image ref
 * names (docker's RepoDigests: the manifest a pull fetched or a push
 * wrote); it moves from any image that had it. */
int st_image_set_digest(struct st_store *s, const char *ref, const char *digest_ref, struct st_error *err);

/* Import a root filesystem tar (plain or compressed) as a one-layer image;
 * tagged with name when name is not NULL. comment goes into its history. */
int st_image_import(struct st_store *s, struct st_reader *in, const char *name,
		    const char *comment, char id[ST_DIGEST_LEN + 1], struct st_error *err);

/* -------------------------------------------------------- volume store */

struct st_volume {
	char name[ST_VOLUME_NAME_MAX + 1];
	char driver[64];
	char mountpoint[4096];      /* the driver's path ("" when unknown) */
	enum st_volume_scope scope;
	bool anonymous;             /* created without a name */
	int64_t created;            /* unix seconds */
	struct st_kvlist options;   /* as given to create */
	struct st_kvlist labels;    /* --label KEY=VALUE at create (docker's Labels) */
	struct st_kvlist status;    /* the driver's get */
	char **mount_ids;           /* who holds it mounted now */
	size_t nmount_ids;
};

void st_volume_free(struct st_volume *v);
void st_volume_list_free(struct st_volume *v, size_t n);

/* Create a volume with driver (NULL: "local"); name NULL or "" makes an
 * anonymous volume with a random name. Creating an existing name with the
 * same driver and options returns it; anything else is -EEXIST. out may be
 * NULL. */
int st_volume_create(struct st_store *s, const char *driver, const char *name,
		     const struct st_kvlist *opts, struct st_volume *out, struct st_error *err);
/* The same with labels (may be NULL), kept in the store's record (drivers
 * never see them); an existing volume keeps the labels it has, as docker's. */
int st_volume_create_labeled(struct st_store *s, const char *driver, const char *name,
			     const struct st_kvlist *opts, const struct st_kvlist *labels,
			     struct st_volume *out, struct st_error *err);
int st_volume_inspect(struct st_store *s, const char *name, struct st_volume *out,
		      struct st_error *err);
/* Every volume of the store, by name; volumes that a driver reports but the
 * store has no record of (made through the plugin directly) are included.
 * Drivers that fail are named in warnings (may be NULL). */
int st_volume_list(struct st_store *s, struct st_volume **out, size_t *n,
		   struct st_kvlist *warnings, struct st_error *err);
/* Refused (-EBUSY, naming the mount ids) while mounted. force: a missing
 * volume is not an error, and the record goes even when the driver fails. */
int st_volume_remove(struct st_store *s, const char *name, bool force, struct st_error *err);
/* Mount for mount_id (mounting the same id twice is one use). */
int st_volume_mount(struct st_store *s, const char *name, const char *mount_id,
		    char *path, size_t len, struct st_error *err);
int st_volume_unmount(struct st_store *s, const char *name, const char *mount_id,
		      struct st_error *err);
/* Does anyone (a container, a build) hold the volume mounted? Containers
 * mount volumes with their id as mount id, so this is their "in use". */
bool st_volume_in_use(struct st_store *s, const char *name);
/* Remove every volume not in use; names receives what went, reclaimed the
 * bytes freed (as far as the driver's path shows). */
int st_volume_prune(struct st_store *s, char ***names, size_t *n, int64_t *reclaimed,
		    struct st_error *err);

#ifdef __cplusplus
}
#endif
#endif
