/* The container store (containers/<id>/). */
#include <fcntl.h>

#include "container.h"
#include "fs.h"
#include "json.h"
#include "util.h"

int st_containers_using_image(struct st_store *s, const char *image_id, char **first)
{
	*first = NULL;
	struct st_error e;
	_cleanup_close_ int dfd = st_store_subdir(s, "containers", &e);
	if (dfd < 0)
		return 0;
	char **names;
	size_t n;
	if (st_list_dir(dfd, &names, &n) < 0)
		return 0;
	int count = 0;
	for (size_t i = 0; i < n; i++) {
		if (names[i][0] == '.')
			continue;
		char p[256];
		snprintf(p, sizeof(p), "%s/config.json", names[i]);
		_cleanup_json_ json_object *o = NULL;
		if (st_json_load_at(dfd, p, &o, &e) < 0)
			continue;
		if (strcmp(st_json_str(o, "Image"), image_id) != 0)
			continue;
		if (count++ == 0) {
			const char *name = st_json_str(o, "Name");
			*first = strdup(*name ? name : names[i]);
		}
	}
	st_strv_free(names, n);
	return count;
}
