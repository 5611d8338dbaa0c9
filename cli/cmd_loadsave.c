/* strata load / strata save: images in and out as docker-archive or OCI
 * image layout, in Docker's conventions (messages, stdin/stdout, -i/-o). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "image/image.h"
#include "cli.h"

int cmd_load(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"input", required_argument, 0, 'i'},
					     {"quiet", no_argument, 0, 'q'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	const char *input = NULL;
	bool quiet = false;
	int o;
	while ((o = cli_opt(c, argc, argv, "i:q", opts))) {
		if (o == 'i')
			input = optarg;
		if (o == 'q')
			quiet = true;
	}
	int rc = cli_args(c, argc, 0, 0, "the archive comes with -i or on stdin", NULL);
	if (rc >= 0)
		return rc;
	if (input && strcmp(input, "-") == 0)
		input = NULL;
	if (!input && isatty(STDIN_FILENO))
		return cli_usage(c, "requested load from stdin, but stdin is a terminal: use -i FILE or a pipe");
	struct st_store *s;
	if (cli_store(c, &s) != 0)
		return EXIT_ERR;
	struct st_error err = {0};
	struct st_load_result res;
	if (st_image_load(s, input, STDIN_FILENO, &res, &err) < 0)
		return cli_fail(&err);
	/* docker's lines: a tag per loaded tag, the id of an image without one */
	for (size_t i = 0; i < res.ntags; i++)
		printf("Loaded image: %s\n", res.tags[i]);
	for (size_t i = 0; i < res.nuntagged; i++)
		printf("Loaded image ID: %s\n", res.untagged[i]);
	if (!quiet)
		fprintf(stderr, "%d layer%s loaded, %d already present\n", res.layers_loaded,
			res.layers_loaded == 1 ? "" : "s", res.layers_reused);
	st_load_result_free(&res);
	return EXIT_OK;
}

int cmd_save(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"output", required_argument, 0, 'o'},
					     {"format", required_argument, 0, 'f'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	const char *output = NULL;
	enum st_image_format fmt = ST_IMAGE_FORMAT_DOCKER;
	int o;
	while ((o = cli_opt(c, argc, argv, "o:", opts))) {
		if (o == 'o')
			output = optarg;
		if (o == 'f') {
			if (strcmp(optarg, "docker") == 0 || strcmp(optarg, "docker-archive") == 0)
				fmt = ST_IMAGE_FORMAT_DOCKER;
			else if (strcmp(optarg, "oci") == 0 || strcmp(optarg, "oci-archive") == 0)
				fmt = ST_IMAGE_FORMAT_OCI;
			else
				return cli_usage(c, "unknown format \"%s\" (docker or oci)", optarg);
		}
	}
	int rc = cli_args(c, argc, 1, -1, "IMAGE...", NULL);
	if (rc >= 0)
		return rc;
	if (output && strcmp(output, "-") == 0)
		output = NULL;
	if (!output && isatty(STDOUT_FILENO))
		return cli_usage(c, "cowardly refusing to save to a terminal: use -o FILE or a redirect");
	struct st_store *s;
	if (cli_store(c, &s) != 0)
		return EXIT_ERR;
	struct st_error err = {0};
	if (st_image_save(s, (const char *const *)argv + optind, (size_t)(argc - optind), fmt, output,
			  STDOUT_FILENO, &err) < 0)
		return cli_fail(&err);
	return EXIT_OK;
}
