/* The docker plugin's driver layers in the store's holder table: driver
 * layers "docker.NAME.ID" are dockerd's, held through the graph driver
 * plugin NAME, as long as <root>/docker-plugin/NAME exists (made by the
 * plugin's Init; removing it hands the plugin's layers to `system check
 * --repair` as orphans). A layer that an ApplyDiff is filling is not
 * dockerd's yet: it belongs to the apply's lease, whose sweep removes it
 * when the plugin was killed mid-apply. No layer of the layer store is held
 * through the plugin (dockerd keeps its own layer store), so holders
 * "docker:..." are never backed. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dp.h"
#include "exact.h"

static bool docker_holds_layer(struct st_store *s, const char *name, const char *chain_id, char *why, size_t len)
{
	snprintf(why, len, "no layer is held through a docker plugin (dockerd keeps its own layer store)");
	return false;
}

static bool docker_owns_driver_layer(struct st_store *s, const char *driver_id)
{
	char plugin[DP_NAME_MAX + 1], dir[DP_NAME_MAX + 32];
	const char *id;
	if (!dp_layer_split(driver_id, plugin, sizeof(plugin), &id))
		return false;
	snprintf(dir, sizeof(dir), "docker-plugin/%s", plugin);
	if (faccessat(st_store_root_fd(s), dir, F_OK, AT_SYMLINK_NOFOLLOW) != 0)
		return false;
	return !dp_exact_applying(s, plugin, id);
}

static const struct st_holder_kind docker_holders = {
	.prefix = "docker",
	.holds_layer = docker_holds_layer,
	.owns_driver_layer = docker_owns_driver_layer,
};

int dp_holders_register(void)
{
	return st_holder_kind_register(&docker_holders);
}
