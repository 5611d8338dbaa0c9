/* strata pull / push / login / logout, in docker's conventions: progress
 * per layer redrawn in place on a terminal (bar, bytes, rate), one plain
 * line per change otherwise; "Digest:"/"Status:" after a pull, "TAG:
 * digest: ... size: ..." after a push. */
#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "registry/registry.h"
#include "cli.h"

/* ------------------------------------------------------------- progress */

struct prog_row {
	char id[13];
	char status[96];
	int64_t current, total;
	double start;      /* first bytes seen */
	double last_draw;
};

struct prog {
	bool tty, quiet;
	int width; /* of the terminal: a wrapped row would break the redraw */
	struct prog_row *rows;
	size_t n;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "Downloading [=====>    ]  12.3MB/45.6MB  3.2MB/s": the bar as wide as
 * width allows (none when width is 0), or, plain, the status with the
 * bytes and mean rate. */
static void row_text(const struct prog_row *w, int width, double now, char *out, size_t len)
{
	char nums[96] = "";
	if (w->current > 0) {
		char cur[32], tot[32] = "", rate[32] = "";
		st_format_size(w->current, cur, sizeof(cur));
		if (w->total > 0)
			st_format_size(w->total, tot, sizeof(tot));
		double dt = now - w->start;
		if (w->start > 0 && dt > 0.05)
			st_format_size((int64_t)((double)w->current / dt), rate, sizeof(rate));
		snprintf(nums, sizeof(nums), "  %s%s%s%s%s%s", cur, *tot ? "/" : "", tot, *rate ? "  " : "", rate,
			 *rate ? "/s" : "");
	}
	int head = snprintf(out, len, "%s: %s", w->id, w->status);
	/* the numbers' widest (30) is kept free: the bar does not jitter */
	int room = width - 1 - head - 30 - 3;
	if (room > 50)
		room = 50;
	if (width > 0 && w->current > 0 && w->total > 0 && room >= 10 && head > 0 && (size_t)head + 60 < len) {
		int fill = (int)((double)room * (double)w->current / (double)w->total);
		fill = fill > room ? room : fill;
		char *b = out + head;
		*b++ = ' ';
		*b++ = '[';
		for (int i = 0; i < room; i++)
			*b++ = i < fill ? '=' : i == fill ? '>' : ' ';
		*b++ = ']';
		*b = '\0';
	}
	size_t used = strlen(out);
	snprintf(out + used, len - used, "%s", nums);
}

static void on_event(void *ctx, const struct st_reg_event *ev)
{
	struct prog *p = ctx;
	if (p->quiet)
		return;
	double now = now_s();
	if (!ev->id) {
		/* a line about the image: printed as it is; rows drawn so far
		 * stay where they are */
		printf("%s\n", ev->status);
		p->n = 0;
		fflush(stdout);
		return;
	}
	size_t i = 0;
	while (i < p->n && strcmp(p->rows[i].id, ev->id) != 0)
		i++;
	bool fresh = i == p->n;
	if (fresh) {
		struct prog_row *nr = realloc(p->rows, (p->n + 1) * sizeof(*nr));
		if (!nr)
			return;
		p->rows = nr;
		memset(&nr[i], 0, sizeof(nr[i]));
		snprintf(nr[i].id, sizeof(nr[i].id), "%s", ev->id);
		p->n++;
	}
	struct prog_row *w = &p->rows[i];
	bool changed = fresh || strcmp(w->status, ev->status) != 0;
	if (ev->current > 0 && w->start == 0)
		w->start = now;
	snprintf(w->status, sizeof(w->status), "%s", ev->status);
	w->current = ev->current;
	w->total = ev->total;
	char line[256];
	if (!p->tty) {
		/* plain: one line per change of status, not per byte */
		if (changed) {
			row_text(w, 0, now, line, sizeof(line));
			printf("%s\n", line);
			fflush(stdout);
		}
		return;
	}
	if (!changed && now - w->last_draw < 0.1)
		return;
	w->last_draw = now;
	row_text(w, p->width, now, line, sizeof(line));
	if ((int)strlen(line) >= p->width && p->width > 1)
		line[p->width - 1] = '\0';
	if (fresh) {
		printf("%s\n", line);
	} else {
		/* up to the row, redraw it, back down */
		size_t up = p->n - i;
		printf("\033[%zuA\r\033[2K%s\033[%zuB\r", up, line, up);
	}
	fflush(stdout);
}

static void prog_init(struct prog *p, struct st_reg_opts *o, bool quiet)
{
	memset(p, 0, sizeof(*p));
	p->tty = isatty(STDOUT_FILENO);
	p->quiet = quiet;
	struct winsize ws;
	p->width = p->tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
	o->progress = on_event;
	o->progress_ctx = p;
}

/* ------------------------------------------------------------- options */

enum { OPT_TLS = 1000, OPT_PLATFORM, OPT_FORMAT, OPT_COMPRESSION, OPT_AUTHFILE, OPT_PASSWORD_STDIN };

static int parse_bool_opt(struct cli *c, const char *name, const char *v, bool *out)
{
	if (!v || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		*out = true;
	else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		*out = false;
	else
		return cli_usage(c, "--%s takes true or false, not \"%s\"", name, v);
	return 0;
}

/* The options every registry command shares; 0 when handled, 1 when not
 * one of them, else the exit code. */
static int common_opt(struct cli *c, int o, struct st_reg_opts *ro)
{
	switch (o) {
	case OPT_TLS:
		ro->tls_verify_set = true;
		return parse_bool_opt(c, "tls-verify", optarg, &ro->tls_verify);
	case OPT_AUTHFILE:
		ro->auth_file = optarg;
		return 0;
	default:
		return 1;
	}
}

/* ----------------------------------------------------------------- pull */

int cmd_pull(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"platform", required_argument, 0, OPT_PLATFORM},
					     {"tls-verify", optional_argument, 0, OPT_TLS},
					     {"authfile", required_argument, 0, OPT_AUTHFILE},
					     {"quiet", no_argument, 0, 'q'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	struct st_reg_opts ro = {0};
	bool quiet = false;
	int o;
	while ((o = cli_opt(c, argc, argv, "q", opts))) {
		int h = common_opt(c, o, &ro);
		if (h > 1)
			return h;
		if (o == OPT_PLATFORM)
			ro.platform = optarg;
		if (o == 'q')
			quiet = true;
	}
	struct st_store *s;
	int rc = cli_args(c, argc, 1, 1, "NAME[:TAG|@DIGEST]", &s);
	if (rc >= 0)
		return rc;
	struct prog p;
	prog_init(&p, &ro, quiet);
	struct st_error err = {0};
	struct st_pull_result res;
	int r = st_registry_pull(s, argv[optind], &ro, &res, &err);
	free(p.rows);
	if (r < 0)
		return cli_fail(&err);
	if (!quiet) {
		printf("Digest: %s\n", res.digest);
		const char *what = res.name[0] ? res.name : res.canonical;
		if (res.up_to_date)
			printf("Status: Image is up to date for %s\n", what);
		else
			printf("Status: Downloaded newer image for %s\n", what);
	}
	printf("%s\n", res.canonical);
	return EXIT_OK;
}

/* ----------------------------------------------------------------- push */

int cmd_push(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"format", required_argument, 0, OPT_FORMAT},
					     {"compression", required_argument, 0, OPT_COMPRESSION},
					     {"tls-verify", optional_argument, 0, OPT_TLS},
					     {"authfile", required_argument, 0, OPT_AUTHFILE},
					     {"quiet", no_argument, 0, 'q'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	struct st_reg_opts ro = {0};
	bool quiet = false;
	int o;
	while ((o = cli_opt(c, argc, argv, "q", opts))) {
		int h = common_opt(c, o, &ro);
		if (h > 1)
			return h;
		if (o == 'q')
			quiet = true;
		if (o == OPT_FORMAT) {
			if (strcmp(optarg, "docker") == 0 || strcmp(optarg, "v2s2") == 0)
				ro.format = ST_REG_FORMAT_DOCKER;
			else if (strcmp(optarg, "oci") == 0)
				ro.format = ST_REG_FORMAT_OCI;
			else
				return cli_usage(c, "unknown format \"%s\" (docker or oci)", optarg);
		}
		if (o == OPT_COMPRESSION) {
			if (strcmp(optarg, "gzip") == 0)
				ro.compression = ST_REG_GZIP;
			else if (strcmp(optarg, "zstd") == 0)
				ro.compression = ST_REG_ZSTD;
			else
				return cli_usage(c, "unknown compression \"%s\" (gzip or zstd)", optarg);
		}
	}
	int rc = cli_args(c, argc, 1, 1, "NAME[:TAG]", NULL);
	if (rc >= 0)
		return rc;
	if (ro.compression == ST_REG_ZSTD && ro.format == ST_REG_FORMAT_DOCKER)
		return cli_usage(c, "--compression zstd needs --format oci (Docker's schema 2 has no zstd layers)");
	struct st_store *s;
	if (cli_store(c, &s) != 0)
		return EXIT_ERR;
	struct prog p;
	prog_init(&p, &ro, quiet);
	struct st_error err = {0};
	struct st_push_result res;
	int r = st_registry_push(s, argv[optind], &ro, &res, &err);
	free(p.rows);
	if (r < 0)
		return cli_fail(&err);
	if (quiet)
		printf("%s\n", res.digest);
	else
		printf("%s: digest: %s size: %lld\n", res.tag, res.digest, (long long)res.size);
	return EXIT_OK;
}

/* ---------------------------------------------------------- login/logout */

/* A line from the terminal, without echo when secret. */
static int prompt(const char *what, bool secret, char *buf, size_t len)
{
	FILE *tty = fopen("/dev/tty", "r+");
	if (!tty)
		return -ENOTTY;
	struct termios old, quiet;
	bool restore = false;
	fprintf(tty, "%s: ", what);
	fflush(tty);
	if (secret && tcgetattr(fileno(tty), &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		restore = tcsetattr(fileno(tty), TCSAFLUSH, &quiet) == 0;
	}
	char *got = fgets(buf, (int)len, tty);
	if (restore) {
		tcsetattr(fileno(tty), TCSAFLUSH, &old);
		fputc('\n', tty);
	}
	fclose(tty);
	if (!got)
		return -EIO;
	buf[strcspn(buf, "\r\n")] = '\0';
	return 0;
}

int cmd_login(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"username", required_argument, 0, 'u'},
					     {"password", required_argument, 0, 'p'},
					     {"password-stdin", no_argument, 0, OPT_PASSWORD_STDIN},
					     {"tls-verify", optional_argument, 0, OPT_TLS},
					     {"authfile", required_argument, 0, OPT_AUTHFILE},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	struct st_reg_opts ro = {0};
	const char *user = NULL, *pass = NULL;
	bool from_stdin = false;
	int o;
	while ((o = cli_opt(c, argc, argv, "u:p:", opts))) {
		int h = common_opt(c, o, &ro);
		if (h > 1)
			return h;
		if (o == 'u')
			user = optarg;
		if (o == 'p')
			pass = optarg;
		if (o == OPT_PASSWORD_STDIN)
			from_stdin = true;
	}
	int rc = cli_args(c, argc, 0, 1, "SERVER", NULL);
	if (rc >= 0)
		return rc;
	const char *host = optind < argc ? argv[optind] : "docker.io";
	if (pass && from_stdin)
		return cli_usage(c, "--password and --password-stdin are mutually exclusive");
	if (from_stdin && !user)
		return cli_usage(c, "--password-stdin needs --username");
	char ubuf[256], pbuf[1024];
	if (!user) {
		if (prompt("Username", false, ubuf, sizeof(ubuf)) < 0)
			return cli_usage(c, "no terminal to ask for a user name: use --username");
		user = ubuf;
	}
	if (from_stdin) {
		size_t n = fread(pbuf, 1, sizeof(pbuf) - 1, stdin);
		pbuf[n] = '\0';
		/* the trailing newline of `echo pass |` is not part of it */
		while (n > 0 && (pbuf[n - 1] == '\n' || pbuf[n - 1] == '\r'))
			pbuf[--n] = '\0';
		pass = pbuf;
	} else if (pass) {
		fprintf(stderr, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n");
	} else {
		if (prompt("Password", true, pbuf, sizeof(pbuf)) < 0)
			return cli_usage(c, "no terminal to ask for the password: use --password-stdin");
		pass = pbuf;
	}
	struct st_error err = {0};
	int r = st_registry_login(host, user, pass, &ro, &err);
	explicit_bzero(pbuf, sizeof(pbuf));
	if (r < 0)
		return cli_fail(&err);
	char path[4096];
	if (st_registry_auth_file(&ro, path, sizeof(path), &err) == 0)
		fprintf(stderr, "Credentials saved in %s\n", path);
	printf("Login Succeeded\n");
	return EXIT_OK;
}

int cmd_logout(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"authfile", required_argument, 0, OPT_AUTHFILE},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	struct st_reg_opts ro = {0};
	int o;
	while ((o = cli_opt(c, argc, argv, "", opts))) {
		int h = common_opt(c, o, &ro);
		if (h > 1)
			return h;
	}
	int rc = cli_args(c, argc, 0, 1, "SERVER", NULL);
	if (rc >= 0)
		return rc;
	const char *host = optind < argc ? argv[optind] : "docker.io";
	struct st_error err = {0};
	if (st_registry_logout(host, &ro, &err) < 0)
		return cli_fail(&err);
	printf("Removing login credentials for %s\n", host);
	return EXIT_OK;
}
