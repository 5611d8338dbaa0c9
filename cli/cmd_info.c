/* strata info: the driver in use, the store, and every driver's support. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"

int cmd_info(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"format", required_argument, 0, 'f'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	struct cli_fmt fmt = {0};
	int o;
	while ((o = cli_opt(c, argc, argv, "f:", opts)))
		if (cli_fmt_discard(&fmt), cli_format_parse(c, optarg, false, &fmt) != 0)
			return EXIT_ERR;
	bool json = fmt.json;
	struct st_store *s;
	int rc = cli_args(c, argc, 0, 0, NULL, &s);
	if (rc >= 0) {
		cli_fmt_discard(&fmt);
		return rc;
	}
	struct st_driver *d = st_store_driver(s);
	struct st_kvlist status = {0};
	st_drv_status(d, &status);

	json_object *root = json_object_new_object();
	json_object_object_add(root, "Driver", json_object_new_string(d->ops->name));
	json_object_object_add(root, "Root", json_object_new_string(st_store_root(s)));
	json_object *ds = json_object_new_array();
	for (size_t i = 0; i < status.n; i++) {
		json_object *pair = json_object_new_array();
		json_object_array_add(pair, json_object_new_string(status.v[i].key));
		json_object_array_add(pair, json_object_new_string(status.v[i].value));
		json_object_array_add(ds, pair);
	}
	json_object_object_add(root, "DriverStatus", ds);
	json_object *sup = json_object_new_object();
	size_t n;
	const struct st_driver_ops *const *reg = st_driver_registry(&n);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_new_object();
		char reason[512] = "";
		bool ok = true;
		if (strcmp(reg[i]->name, d->ops->name) != 0) {
			char home[PATH_MAX];
			snprintf(home, sizeof(home), "%s/%s", st_store_root(s), reg[i]->name);
			ok = st_driver_probe(reg[i]->name, home, reason, sizeof(reason)) == 0;
		}
		json_object_object_add(e, "Supported", json_object_new_boolean(ok));
		if (!ok)
			json_object_object_add(e, "Reason", json_object_new_string(reason));
		json_object_object_add(sup, reg[i]->name, e);
	}
	json_object_object_add(root, "Drivers", sup);

	if (fmt.tmpl) {
		rc = cli_print_formatted(json_object_get(root), &fmt);
	} else if (json) {
		cli_print_json(json_object_get(root));
	} else {
		printf("Storage Driver: %s\n", d->ops->name);
		for (size_t i = 0; i < status.n; i++)
			printf(" %s: %s\n", status.v[i].key, status.v[i].value);
		printf("Root Dir: %s\n", st_store_root(s));
		printf("Drivers:\n");
		json_object_object_foreach(sup, name, e)
		{
			json_object *ok, *why;
			json_object_object_get_ex(e, "Supported", &ok);
			if (json_object_get_boolean(ok))
				printf(" %s: supported%s\n", name, strcmp(name, d->ops->name) == 0 ? " (in use)" : "");
			else if (json_object_object_get_ex(e, "Reason", &why))
				printf(" %s: not supported: %s\n", name, json_object_get_string(why));
		}
	}
	json_object_put(root);
	st_kvlist_free(&status);
	return rc < 0 ? EXIT_OK : rc;
}
