/* Containers: create, start, run, stop, ps, logs, rm, diff, commit,
 * export, mount, umount. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "base/base.h"
#include "container/container.h"
#include "cli.h"

#define CREATE_OPTS \
	{"name", required_argument, 0, 'n'}, {"env", required_argument, 0, 'e'}, \
	{"workdir", required_argument, 0, 'w'}, {"user", required_argument, 0, 'u'}, \
	{"entrypoint", required_argument, 0, 'E'}, {"volume", required_argument, 0, 'v'}, \
	{"network", required_argument, 0, 'N'}, {"runtime", required_argument, 0, 'R'}, \
	{"label", required_argument, 0, 'l'}

struct create_args {
	struct st_container_opts o;
	char **env;
	size_t nenv;
	struct st_mount_spec *mounts;
	size_t nmounts;
	struct st_kvlist labels;
	bool rm, detach;
};

static void create_args_free(struct create_args *a)
{
	free(a->env);
	for (size_t i = 0; i < a->nmounts; i++) {
		free(a->mounts[i].src);
		free(a->mounts[i].dst);
	}
	free(a->mounts);
	st_kvlist_free(&a->labels);
}

static int parse_volume(struct cli *c, struct create_args *a, const char *spec)
{
	char *copy = strdup(spec), *parts[3] = {0};
	int n = 0;
	for (char *save = NULL, *t = strtok_r(copy, ":", &save); t && n < 3; t = strtok_r(NULL, ":", &save))
		parts[n++] = t;
	struct st_mount_spec m = {0};
	bool ok = n >= 1 && n <= 3;
	if (ok && n == 1) { /* an anonymous volume at DST (named at create) */
		m.dst = strdup(parts[0]);
		m.volume = true;
	} else if (ok) {
		m.src = strdup(parts[0]);
		m.dst = strdup(parts[1]);
		m.volume = parts[0][0] != '/';
		if (n == 3) {
			ok = !strcmp(parts[2], "ro") || !strcmp(parts[2], "rw");
			m.ro = !strcmp(parts[2], "ro");
		}
	}
	free(copy);
	if (!ok || !m.dst || m.dst[0] != '/') {
		free(m.src);
		free(m.dst);
		return cli_usage(c, "invalid volume specification \"%s\": SRC:DST[:ro|rw] with an absolute DST", spec);
	}
	struct st_mount_spec *nm = realloc(a->mounts, (a->nmounts + 1) * sizeof(*nm));
	if (!nm)
		return EXIT_ERR;
	a->mounts = nm;
	nm[a->nmounts++] = m;
	return 0;
}

/* Options of create and run; returns -1 to go on, else an exit code. */
static int parse_create(struct cli *c, int argc, char **argv, struct create_args *a, bool run)
{
	static const struct option copts[] = {CREATE_OPTS, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	static const struct option ropts[] = {CREATE_OPTS, {"rm", no_argument, 0, 'r'}, {"detach", no_argument, 0, 'd'},
					      {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	memset(a, 0, sizeof(*a));
	int o;
	while ((o = cli_opt(c, argc, argv, run ? "e:w:u:v:l:d" : "e:w:u:v:l:", run ? ropts : copts))) {
		switch (o) {
		case 'n':
			a->o.name = optarg;
			break;
		case 'e': {
			/* -e NAME alone takes the value from our environment */
			const char *kv = optarg;
			if (!strchr(kv, '=')) {
				const char *v = getenv(kv);
				if (!v)
					break;
				char *buf = malloc(strlen(kv) + strlen(v) + 2);
				sprintf(buf, "%s=%s", kv, v);
				kv = buf; /* lives as long as the process */
			}
			char **ne = realloc(a->env, (a->nenv + 1) * sizeof(char *));
			if (!ne)
				return EXIT_ERR;
			a->env = ne;
			ne[a->nenv++] = (char *)kv;
			break;
		}
		case 'w':
			a->o.workdir = optarg;
			break;
		case 'u':
			a->o.user = optarg;
			break;
		case 'E':
			a->o.entrypoint = optarg;
			break;
		case 'v':
			if (parse_volume(c, a, optarg) != 0)
				return EXIT_USAGE;
			break;
		case 'N':
			if (strcmp(optarg, "host") && strcmp(optarg, "none") && strcmp(optarg, "default"))
				return cli_usage(c, "unknown network \"%s\" (host or none)", optarg);
			a->o.network_none = !strcmp(optarg, "none");
			break;
		case 'R':
			a->o.runtime = optarg;
			break;
		case 'l': {
			struct st_error err = {0};
			if (st_label_add(&a->labels, optarg, &err) < 0)
				return cli_usage(c, "%s", err.msg);
			break;
		}
		case 'r':
			a->rm = true;
			break;
		case 'd':
			a->detach = true;
			break;
		}
	}
	int rc = cli_args(c, argc, 1, -1, "an image", NULL);
	if (rc >= 0)
		return rc;
	a->o.image = argv[optind];
	a->o.cmd = argv + optind + 1;
	a->o.ncmd = (size_t)(argc - optind - 1);
	a->o.env = a->env;
	a->o.nenv = a->nenv;
	a->o.mounts = a->mounts;
	a->o.nmounts = a->nmounts;
	a->o.labels = &a->labels;
	return -1;
}

int cmd_create(struct cli *c, int argc, char **argv)
{
	struct create_args a;
	int rc = parse_create(c, argc, argv, &a, false);
	if (rc >= 0) {
		create_args_free(&a);
		return rc;
	}
	struct st_store *s;
	if (cli_store(c, &s) != 0) {
		create_args_free(&a);
		return EXIT_ERR;
	}
	struct st_error err = {0};
	char id[65];
	rc = st_container_create(s, &a.o, id, &err) < 0 ? cli_fail(&err) : (printf("%s\n", id), EXIT_OK);
	create_args_free(&a);
	return rc;
}

int cmd_run(struct cli *c, int argc, char **argv)
{
	struct create_args a;
	int rc = parse_create(c, argc, argv, &a, true);
	if (rc >= 0) {
		create_args_free(&a);
		return rc;
	}
	if (a.rm && a.detach) {
		create_args_free(&a);
		return cli_usage(c, "--rm and -d cannot be used together");
	}
	struct st_store *s;
	if (cli_store(c, &s) != 0) {
		create_args_free(&a);
		return EXIT_ERR;
	}
	struct st_error err = {0};
	char id[65];
	if (st_container_create(s, &a.o, id, &err) < 0) {
		create_args_free(&a);
		return cli_fail(&err);
	}
	create_args_free(&a);
	int code = 0;
	fflush(stdout);
	if (st_container_start(s, id, !a.detach, STDOUT_FILENO, STDERR_FILENO, &code, &err) < 0) {
		rc = cli_fail(&err);
		code = 125;
	} else if (a.detach) {
		printf("%s\n", id);
		code = 0;
	}
	if (a.rm) {
		struct st_error e2 = {0};
		/* gone already: a concurrent rm or prune was first */
		if (st_container_remove(s, id, true, &e2) < 0 && e2.code != ENOENT)
			cli_fail(&e2);
	}
	(void)rc;
	return code;
}

/* The options of start (-a), stop (-t) and rm (-f); each takes its own. */
struct each_opts {
	bool attach, force;
	int timeout;
};

/* Parse the options into eo, then run fn on each container named. */
static int each_container(struct cli *c, int argc, char **argv, const char *shortopts, const struct option *opts,
			  int (*fn)(struct st_store *, const char *, const struct each_opts *), struct each_opts *eo)
{
	int o;
	while ((o = cli_opt(c, argc, argv, shortopts, opts))) {
		if (o == 'a')
			eo->attach = true;
		if (o == 'f')
			eo->force = true;
		if (o == 't') {
			char *end;
			long t = strtol(optarg, &end, 10);
			if (*end || t < 0)
				return cli_usage(c, "invalid value \"%s\" for %s", optarg, argv[optind - 1]);
			eo->timeout = (int)t;
		}
	}
	struct st_store *s;
	int rc = cli_args(c, argc, 1, -1, NULL, &s);
	if (rc >= 0)
		return rc;
	rc = EXIT_OK;
	for (int i = optind; i < argc; i++) {
		int r = fn(s, argv[i], eo);
		if (r != EXIT_OK)
			rc = r;
	}
	return rc;
}

/* ------------------------------------------------------ start and stop */

static int start_one(struct st_store *s, const char *ref, const struct each_opts *eo)
{
	struct st_error err = {0};
	int code = 0;
	fflush(stdout);
	if (st_container_start(s, ref, eo->attach, STDOUT_FILENO, STDERR_FILENO, &code, &err) < 0)
		return cli_fail(&err);
	if (!eo->attach)
		printf("%s\n", ref);
	return eo->attach ? code : EXIT_OK;
}

int cmd_start(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"attach", no_argument, 0, 'a'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	struct each_opts eo = {0};
	return each_container(c, argc, argv, "a", opts, start_one, &eo);
}

/* stop and rm print each container done */
static int stop_one(struct st_store *s, const char *ref, const struct each_opts *eo)
{
	struct st_error err = {0};
	if (st_container_stop(s, ref, eo->timeout, &err) < 0)
		return cli_fail(&err);
	printf("%s\n", ref);
	return EXIT_OK;
}

int cmd_stop(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"time", required_argument, 0, 't'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	struct each_opts eo = {.timeout = 10};
	return each_container(c, argc, argv, "t:", opts, stop_one, &eo);
}

/* ------------------------------------------------------------------ rm */

static int rm_one(struct st_store *s, const char *ref, const struct each_opts *eo)
{
	struct st_error err = {0};
	if (st_container_remove(s, ref, eo->force, &err) < 0)
		return cli_fail(&err);
	printf("%s\n", ref);
	return EXIT_OK;
}

int cmd_rm(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"force", no_argument, 0, 'f'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	struct each_opts eo = {0};
	return each_container(c, argc, argv, "f", opts, rm_one, &eo);
}

/* ------------------------------------------------------------------ ps */

/* a row as docker's container formatter shows it (ps --format): labels,
 * mounts and networks from the container's config */
static json_object *ps_dot(struct st_store *s, const struct st_container *ct, const char *cmd, const char *ago,
			   const char *status)
{
	static const char *const states[] = {"created", "running", "exited"};
	char created[64], sid[13], nvol[16];
	struct st_error err = {0};
	char *text = NULL;
	json_object *cfg = st_container_inspect(s, ct->id, &text, &err) == 0 ? json_tokener_parse(text) : NULL, *x, *y;
	free(text);
	char *labels = NULL, *mounts = NULL;
	size_t ll = 0, ml = 0, local = 0;
	FILE *lf = open_memstream(&labels, &ll), *mf = open_memstream(&mounts, &ml);
	if (lf && json_object_object_get_ex(cfg, "Config", &x) && json_object_object_get_ex(x, "Labels", &y) &&
	    json_object_is_type(y, json_type_object)) {
		bool first = true;
		json_object_object_foreach(y, k, val)
		{
			fprintf(lf, "%s%s=%s", first ? "" : ",", k, json_object_get_string(val));
			first = false;
		}
	}
	if (mf && json_object_object_get_ex(cfg, "Mounts", &x) && json_object_is_type(x, json_type_array))
		for (size_t i = 0; i < json_object_array_length(x); i++) {
			json_object *m = json_object_array_get_idx(x, i), *nm;
			bool vol = json_object_object_get_ex(m, "Name", &nm);
			if (vol || json_object_object_get_ex(m, "Source", &nm))
				fprintf(mf, "%s%s", i ? "," : "", json_object_get_string(nm));
			local += vol;
		}
	if (lf)
		fclose(lf);
	if (mf)
		fclose(mf);
	snprintf(sid, sizeof(sid), "%.12s", ct->id);
	snprintf(nvol, sizeof(nvol), "%zu", local);
	cli_go_time(ct->created, created, sizeof(created));
	json_object *e = json_object_new_object();
	cli_dot_str(e, "Command", cmd);
	cli_dot_str(e, "CreatedAt", created);
	cli_dot_str(e, "ID", sid);
	cli_dot_str(e, "Image", ct->image_ref);
	cli_dot_str(e, "Labels", labels);
	cli_dot_str(e, "LocalVolumes", nvol);
	cli_dot_str(e, "Mounts", mounts);
	cli_dot_str(e, "Names", ct->name);
	cli_dot_str(e, "Networks", json_object_object_get_ex(cfg, "NetworkMode", &x) ? json_object_get_string(x) : "");
	cli_dot_str(e, "Ports", "");
	cli_dot_str(e, "RunningFor", ago);
	cli_dot_str(e, "State", states[ct->status]);
	cli_dot_str(e, "Status", status);
	free(labels);
	free(mounts);
	json_object_put(cfg);
	return e;
}

int cmd_ps(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"all", no_argument, 0, 'a'}, {"quiet", no_argument, 0, 'q'},
					     {"format", required_argument, 0, 'F'}, {"filter", required_argument, 0, 'f'},
					     {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	bool all = false, quiet = false;
	struct cli_fmt fmt = {0};
	struct st_kvlist filters = {0};
	struct st_error err = {0};
	int o, rc;
	while ((o = cli_opt(c, argc, argv, "aqf:", opts))) {
		if (o == 'a')
			all = true;
		if (o == 'q')
			quiet = true;
		if ((rc = cli_list_opt(c, o, &fmt, &filters)) >= 0)
			return rc;
	}
	struct st_store *s;
	rc = cli_args(c, argc, 0, 0, NULL, &s);
	struct st_container *v;
	size_t n;
	if (rc < 0 && st_container_list_filtered(s, &filters, all, &v, &n, &err) < 0)
		rc = cli_fail(&err);
	st_kvlist_free(&filters);
	if (rc >= 0) {
		cli_fmt_discard(&fmt);
		return rc;
	}
	struct cli_table t;
	cli_table_init(&t, 6);
	cli_table_row(&t, "CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "NAMES");
	json_object *a = json_object_new_array();
	static const char *const names[] = {"created", "running", "exited"};
	for (size_t i = 0; i < n; i++) {
		char sid[13], ago[64], status[96], cmd[32];
		snprintf(sid, sizeof(sid), "%.12s", v[i].id);
		cli_ago(v[i].created, ago, sizeof(ago));
		if (v[i].status == ST_CT_RUNNING) {
			char up[64];
			cli_ago(v[i].started_at, up, sizeof(up));
			snprintf(status, sizeof(status), "Up %.*s", (int)(strlen(up) - 4), up);
		} else if (v[i].status == ST_CT_EXITED) {
			char ago2[64];
			cli_ago(v[i].finished_at, ago2, sizeof(ago2));
			snprintf(status, sizeof(status), "Exited (%d) %s", v[i].exit_code, ago2);
		} else {
			snprintf(status, sizeof(status), "Created");
		}
		snprintf(cmd, sizeof(cmd), "\"%.18s%s\"", v[i].command ? v[i].command : "",
			 v[i].command && strlen(v[i].command) > 18 ? "…" : "");
		if (quiet) {
			printf("%s\n", sid);
			continue;
		}
		cli_table_row(&t, sid, v[i].image_ref, cmd, ago, status, v[i].name);
		json_object *e = json_object_new_object();
		json_object_object_add(e, "ID", json_object_new_string(v[i].id));
		json_object_object_add(e, "Names", json_object_new_string(v[i].name));
		json_object_object_add(e, "Image", json_object_new_string(v[i].image_ref));
		json_object_object_add(e, "ImageID", json_object_new_string(v[i].image));
		json_object_object_add(e, "Command", json_object_new_string(v[i].command ? v[i].command : ""));
		json_object_object_add(e, "Created", json_object_new_int64(v[i].created));
		json_object_object_add(e, "State", json_object_new_string(names[v[i].status]));
		json_object_object_add(e, "Status", json_object_new_string(status));
		json_object_object_add(e, "ExitCode", json_object_new_int(v[i].exit_code));
		json_object_array_add(a, e);
		if (fmt.tmpl && !fmt.failed)
			cli_fmt_row(&fmt, ps_dot(s, &v[i], cmd, ago, status));
	}
	rc = cli_list_end(&t, a, &fmt, quiet, cli_titles_ps);
	st_container_list_free(v, n);
	return rc;
}

/* --------------------------------------------- single-container commands */

static int one_arg(struct cli *c, int argc, char **argv, struct st_store **s)
{
	return cli_args_only(c, argc, argv, 1, 1, "a container", s);
}

int cmd_logs(struct cli *c, int argc, char **argv)
{
	struct st_store *s;
	int rc = one_arg(c, argc, argv, &s);
	if (rc >= 0)
		return rc;
	struct st_error err = {0};
	return st_container_logs(s, argv[optind], STDOUT_FILENO, STDERR_FILENO, &err) < 0 ? cli_fail(&err) : EXIT_OK;
}

int cmd_diff(struct cli *c, int argc, char **argv)
{
	struct st_store *s;
	int rc = one_arg(c, argc, argv, &s);
	if (rc >= 0)
		return rc;
	struct st_error err = {0};
	struct st_changes ch = {0};
	if (st_container_changes(s, argv[optind], &ch, &err) < 0)
		return cli_fail(&err);
	for (size_t i = 0; i < ch.n; i++)
		printf("%c %s\n", ch.v[i].kind, ch.v[i].path);
	st_changes_free(&ch);
	return EXIT_OK;
}

int cmd_mount(struct cli *c, int argc, char **argv)
{
	struct st_store *s;
	int rc = one_arg(c, argc, argv, &s);
	if (rc >= 0)
		return rc;
	struct st_error err = {0};
	char path[PATH_MAX];
	if (st_container_mount(s, argv[optind], path, sizeof(path), &err) < 0)
		return cli_fail(&err);
	printf("%s\n", path);
	return EXIT_OK;
}

int cmd_umount(struct cli *c, int argc, char **argv)
{
	struct st_store *s;
	int rc = one_arg(c, argc, argv, &s);
	if (rc >= 0)
		return rc;
	struct st_error err = {0};
	return st_container_umount(s, argv[optind], &err) < 0 ? cli_fail(&err) : EXIT_OK;
}

int cmd_commit(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"message", required_argument, 0, 'm'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	const char *msg = NULL;
	int o;
	while ((o = cli_opt(c, argc, argv, "m:", opts)))
		msg = optarg;
	struct st_store *s;
	int rc = cli_args(c, argc, 1, 2, "CONTAINER [NAME[:TAG]]", &s);
	if (rc >= 0)
		return rc;
	struct st_error err = {0};
	char id[ST_DIGEST_LEN + 1];
	if (st_container_commit(s, argv[optind], argc - optind == 2 ? argv[optind + 1] : NULL, msg, id, &err) < 0)
		return cli_fail(&err);
	printf("%s\n", id);
	return EXIT_OK;
}

int cmd_export(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"output", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	const char *output = NULL;
	int o;
	while ((o = cli_opt(c, argc, argv, "o:", opts)))
		output = optarg;
	int rc = cli_args(c, argc, 1, 1, "a container", NULL);
	if (rc >= 0)
		return rc;
	int fd = STDOUT_FILENO;
	if (output) {
		fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			return cli_failf("open \"%s\": %s", output, strerror(errno));
	} else if (isatty(STDOUT_FILENO)) {
		return cli_failf("refusing to write a tar to a terminal: use -o FILE or redirect the output");
	}
	struct st_store *s;
	if (cli_store(c, &s) != 0)
		return EXIT_ERR;
	struct st_writer w;
	st_writer_fd(&w, &fd);
	struct st_error err = {0};
	int r = st_container_export(s, argv[optind], &w, &err);
	if (output)
		close(fd);
	return r < 0 ? cli_fail(&err) : EXIT_OK;
}
