/* Internal side of the volume-driver interface: opening a driver by name
 * (compiled in, a loaded C plugin, or an out-of-process plugin through the
 * "plugin" adapter) and the helpers drivers share. The volume store itself
 * is core/volume/volume.c; its layout under <root>/volumes/.strata/:
 *   records/NAME   {"Name","Driver","Options","Labels","CreatedAt","Anonymous","Scope",
 *                  "State"}
 *                  (State: creating|ready|removing), written with fsync
 *   mounts/NAME    {"Boot","Path","Mounted","IDs":[...]}: the mount ids that hold
 *                  the volume; reset by a reboot or when the mount went away
 *   locks/NAME     per-volume flock: every change of one volume holds it
 */
#ifndef ST_VOLUME_H
#define ST_VOLUME_H

#include "strata.h"

/* Open driver `name` for the store at root: init it with its home
 * (<root>/volumes for local, else <root>/volume-drivers/<name>). */
int st_vdrv_open(const char *root, const char *name, struct st_volume_driver **out,
		 struct st_error *err);
void st_vdrv_close(struct st_volume_driver *vd);

/* Names of the drivers that exist without being asked for: built-in ones
 * (not the plugin adapter) and loaded C plugins. */
int st_vdrv_builtin_names(char ***names, size_t *n);

/* Driver names: [a-zA-Z0-9][a-zA-Z0-9_.-]*, 1-63. */
bool st_vdrv_name_valid(const char *name);

/* st_volume_list through docker's volume filters (a kvlist of st_filter_add
 * pairs; volume_filter.c): name=REGEX, driver=NAME, label=KEY[=VALUE],
 * dangling=true|false (1|0). An unknown key is -EINVAL "invalid filter
 * 'KEY'"; f may be NULL. */
int st_volume_list_filtered(struct st_store *s, const struct st_kvlist *f, struct st_volume **out, size_t *n,
			    struct st_kvlist *warnings, struct st_error *err);
/* -EINVAL with a message unless name is a valid volume name. */
int st_volume_check_name(const char *name, struct st_error *err);

#endif
