/* strata inspect [-f TEMPLATE] NAME|ID...: images and containers. */
#include <string.h>

#include <json-c/json.h>

#include <stdlib.h>

#include "container/container.h"
#include "cli.h"

int cmd_inspect(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"format", required_argument, 0, 'f'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	struct cli_fmt fmt = {0};
	while (cli_opt(c, argc, argv, "f:", opts))
		if (cli_fmt_discard(&fmt), cli_format_parse(c, optarg, false, &fmt) != 0)
			return EXIT_ERR;
	struct st_store *s;
	int rc = cli_args(c, argc, 1, -1, NULL, &s);
	if (rc >= 0) {
		cli_fmt_discard(&fmt);
		return rc;
	}
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
	int frc = cli_print_formatted(a, &fmt);
	return rc != EXIT_OK ? rc : frc;
}
