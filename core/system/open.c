/* Opening a store: what a program gets from st_store_open. The layers of
 * core/ below this one never call up into images, containers or the build
 * cache; what the store must ask about them (a holder still backed? a
 * driver layer a container's? a removal to finish?) goes through the
 * holder table, which this registers, before the store opens, every
 * built-in kind into: referenced from here, each kind is linked into any
 * program that opens a store, static library or not. */
#include "base/base.h"
#include "store/store.h"
#include "image/image.h"
#include "container/container.h"
#include "builder/builder.h"
#include "system/system.h"

int st_store_open(const struct st_store_config *cfg, struct st_store **out, struct st_error *err)
{
	/* in this order their recoveries run at open (containers have one) */
	static const struct st_holder_kind *const kinds[] = {
		&st_container_holders,
		&st_image_holders,
		&st_cache_holders,
	};
	for (size_t i = 0; i < ST_ARRAY_SIZE(kinds); i++) {
		int r = st_holder_kind_register(kinds[i]);
		if (r < 0)
			return st_error_set(err, -r, "register the holders \"%s:\"", kinds[i]->prefix);
	}
	return st_store_open_core(cfg, out, err);
}
