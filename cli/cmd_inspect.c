/* strata inspect NAME|ID...: images (containers once they exist). */
#include <string.h>

#include <json-c/json.h>

#include <stdlib.h>

#include "container/container.h"
#include "cli.h"

int cmd_inspect(struct cli *c, int argc, char **argv)
{
	struct st_store *s;
	int rc = cli_args_only(c, argc, argv, 1, -1, NULL, &s);
	if (rc >= 0)
		return rc;
	json_object *a = json_object_new_array();
	rc = EXIT_OK;
	for (int i = optind; i < argc; i++) {
		struct st_error err = {0};
		struct st_image img;
		if (st_image_get(s, argv[i], &img, &err) == 0) {
			json_object_array_add(a, cli_image_json(&img));
			st_image_free(&img);
			continue;
		}
		char *text = NULL;
		if (st_container_inspect(s, argv[i], &text, &err) == 0) {
			json_object_array_add(a, json_tokener_parse(text));
			free(text);
			continue;
		}
		rc = cli_failf("no such object: %s", argv[i]);
	}
	cli_print_json(json_object_get(a));
	json_object_put(a);
	return rc;
}
