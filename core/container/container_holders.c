/* Containers as layer holders ("container:ID"), for the holder table: a
 * container holds its image's top layer, owns its init and container
 * layers directly, uses its image and the volumes it mounts, and finishes
 * at store open the removals a killed process left. */
#include <fcntl.h>
#include <sys/stat.h>

#include "base/base.h"
#include "store/store.h"
#include "container/container.h"
#include "container_int.h"

static bool container_holds_layer(struct st_store *s, const char *name, const char *chain_id, char *why,
				  size_t len)
{
	struct st_error e;
	_cleanup_close_ int cfd = ct_dir(s, &e);
	char trash[160];
	struct stat st;
	snprintf(trash, sizeof(trash), ".trash-%s", name);
	if (st_valid_id(name) && cfd >= 0 &&
	    (fstatat(cfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 || fstatat(cfd, trash, &st, AT_SYMLINK_NOFOLLOW) == 0))
		return true; /* a renamed one is reported (and finished) as a container */
	snprintf(why, len, "names a container that does not exist");
	return false;
}

/* Containers use their image ("image:ID") and the volumes they mount
 * ("volume:NAME"). */
static int container_uses(struct st_store *s, const char *object, char **first)
{
	*first = NULL;
	if (st_str_has_prefix(object, "image:"))
		return st_containers_using_image(s, object + 6, first);
	if (st_str_has_prefix(object, "volume:"))
		return st_containers_using_volume(s, object + 7, first);
	return 0;
}

const struct st_holder_kind st_container_holders = {
	.prefix = "container",
	.holds_layer = container_holds_layer,
	.owns_driver_layer = st_container_owns_driver_layer,
	.uses = container_uses,
	.recover = st_container_store_recover,
};
