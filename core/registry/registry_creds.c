/* Credentials: files in docker's config.json format (mode 0600) and the
 * credential helpers they name (docker-credential-NAME get|store|erase, the
 * docker-credential-helpers protocol: the server URL or a JSON record on
 * stdin, JSON or an error message on stdout).
 *
 * For a host, as docker: credHelpers[HOST] when set, else credsStore when
 * set, else the plain "auths" entry. strata's own file is asked first, then
 * docker's ($DOCKER_CONFIG/config.json or ~/.docker/config.json, read only).
 * login and logout go to the helper strata's file names, else into its
 * "auths". */
#include <fcntl.h>
#include <openssl/evp.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "base/base.h"
#include "registry_int.h"

extern char **environ;

int reg_auth_path(const char *override, char *out, size_t len, struct st_error *err)
{
	const char *env = getenv("STRATA_AUTH_FILE"), *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	int n;
	if (override && *override)
		n = snprintf(out, len, "%s", override);
	else if (env && *env)
		n = snprintf(out, len, "%s", env);
	else if (xdg && *xdg == '/')
		n = snprintf(out, len, "%s/strata/auth.json", xdg);
	else if (home && *home == '/')
		n = snprintf(out, len, "%s/.config/strata/auth.json", home);
	else
		return st_error_fail(err, ENOENT, "credentials: neither HOME nor STRATA_AUTH_FILE is set");
	if (n < 0 || (size_t)n >= len)
		return st_error_fail(err, ENAMETOOLONG, "credentials: the file name is too long");
	return 0;
}

/* The key docker uses for a domain (in auths, credHelpers, and as the
 * helpers' ServerURL). */
static const char *auth_key(const char *domain)
{
	return strcmp(domain, REG_DOCKER_DOMAIN) == 0 ? REG_DOCKER_AUTH_KEY : domain;
}

/* "/a/b/auth.json" -> dir "/a/b", returns "auth.json" */
static const char *split_path(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');
	if (!slash) {
		snprintf(dir, len, ".");
		return path;
	}
	if (slash == path)
		snprintf(dir, len, "/");
	else
		snprintf(dir, len, "%.*s", (int)(slash - path), path);
	return slash + 1;
}

static int load_file(const char *path, json_object **out, struct st_error *err)
{
	*out = NULL;
	char dir[4096];
	const char *base = split_path(path, dir, sizeof(dir));
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? -ENOENT : st_error_set(err, errno, "open \"%s\"", dir);
	int r = st_json_load_at(dfd, base, out, err);
	if (r == -ENOENT)
		return -ENOENT;
	if (r < 0)
		return st_error_wrap(err, "credentials \"%s\"", path);
	if (!json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		*out = NULL;
		return st_error_fail(err, EINVAL, "credentials \"%s\": not a JSON object", path);
	}
	return 0;
}

static int decode_auth(const char *b64, char **user, char **pass)
{
	size_t n = strlen(b64);
	if (n == 0 || n % 4 != 0)
		return -EINVAL;
	_cleanup_free_ unsigned char *raw = malloc(n / 4 * 3 + 1);
	if (!raw)
		return -ENOMEM;
	int got = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n);
	if (got < 0)
		return -EINVAL;
	/* EVP_DecodeBlock counts the padding as zero bytes */
	for (size_t i = n; i > 0 && b64[i - 1] == '='; i--)
		got--;
	raw[got] = '\0';
	if (strlen((char *)raw) != (size_t)got)
		return -EINVAL;
	char *colon = strchr((char *)raw, ':');
	if (!colon)
		return -EINVAL;
	*colon = '\0';
	*user = strdup((char *)raw);
	*pass = strdup(colon + 1);
	if (!*user || !*pass) {
		free(*user);
		free(*pass);
		return -ENOMEM;
	}
	return 0;
}

char *reg_encode_auth(const char *user, const char *pass)
{
	_cleanup_free_ char *plain = st_asprintf("%s:%s", user, pass);
	if (!plain)
		return NULL;
	size_t n = strlen(plain);
	char *out = malloc(4 * ((n + 2) / 3) + 1);
	if (out)
		EVP_EncodeBlock((unsigned char *)out, (unsigned char *)plain, (int)n);
	return out;
}

/* ------------------------------------------------------------- helpers */

/* The helper a file names for a domain, or NULL. Names are docker's:
 * letters, digits, '.', '_', '-' (the program is docker-credential-NAME). */
static int helper_for(json_object *root, const char *path, const char *domain, const char **name,
		      struct st_error *err)
{
	*name = NULL;
	json_object *helpers, *h;
	if (json_object_object_get_ex(root, "credHelpers", &helpers) &&
	    json_object_object_get_ex(helpers, auth_key(domain), &h) && json_object_is_type(h, json_type_string))
		*name = json_object_get_string(h);
	else if (*st_json_str(root, "credsStore"))
		*name = st_json_str(root, "credsStore");
	if (!*name)
		return 0;
	if (!**name || strspn(*name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
			       strlen(*name))
		return st_error_fail(err, EINVAL, "credentials \"%s\": invalid credential helper name \"%s\"", path,
				     *name);
	return 0;
}

/* Runs docker-credential-NAME ACTION with input on stdin (a memfd, so a
 * helper that exits early cannot SIGPIPE us); its stdout in *out. Returns the
 * exit status (0..255) or a negative errno. */
static int helper_run(const char *name, const char *action, const char *input, char **out, struct st_error *err)
{
	*out = NULL;
	char prog[128];
	snprintf(prog, sizeof(prog), "docker-credential-%s", name);
	_cleanup_close_ int in = memfd_create("strata-cred", MFD_CLOEXEC);
	if (in < 0)
		return st_error_set(err, errno, "credential helper %s: memfd", prog);
	size_t n = strlen(input), done = 0;
	while (done < n) {
		ssize_t w = write(in, input + done, n - done);
		if (w < 0 && errno != EINTR)
			return st_error_set(err, errno, "credential helper %s: input", prog);
		done += w > 0 ? (size_t)w : 0;
	}
	if (lseek(in, 0, SEEK_SET) < 0)
		return st_error_set(err, errno, "credential helper %s: input", prog);
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return st_error_set(err, errno, "credential helper %s: pipe", prog);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	char *argv[] = {prog, (char *)action, NULL};
	pid_t pid;
	int r = posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (r != 0) {
		close(pipefd[0]);
		/* not ENOENT: that means "no credentials stored" to the callers */
		return r == ENOENT ? st_error_fail(err, ENOEXEC, "credential helper %s: not found in $PATH", prog)
				   : st_error_fail(err, r, "credential helper %s: %s", prog, strerror(r));
	}
	size_t len = 0, cap = 0;
	char *buf = NULL;
	for (;;) {
		if (len + 4096 > cap) {
			char *nb = len + 4096 > (1u << 20) ? NULL : realloc(buf, cap = cap ? cap * 2 : 8192);
			if (!nb)
				break; /* more than 1 MiB: not a credential */
			buf = nb;
		}
		ssize_t n = read(pipefd[0], buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(pipefd[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!buf) {
		buf = strdup("");
		if (!buf)
			return st_error_set(err, ENOMEM, "credential helper %s", prog);
	}
	buf[len] = '\0';
	for (char *e = buf + len; e > buf && (e[-1] == '\n' || e[-1] == ' ');)
		*--e = '\0';
	*out = buf;
	if (WIFSIGNALED(status))
		return st_error_fail(err, EIO, "credential helper %s %s: killed by signal %d", prog, action,
				     WTERMSIG(status));
	return WEXITSTATUS(status);
}

static bool helper_not_found(const char *msg)
{
	return strstr(msg, "credentials not found in native keychain") != NULL;
}

static int helper_get(const char *name, const char *domain, char **user, char **pass, struct st_error *err)
{
	_cleanup_free_ char *out = NULL;
	int r = helper_run(name, "get", auth_key(domain), &out, err);
	if (r < 0)
		return st_error_wrap(err, "credentials for %s", domain);
	if (r != 0)
		return helper_not_found(out) ? -ENOENT
					     : st_error_fail(err, EACCES, "credentials for %s: docker-credential-%s get: %s",
							     domain, name, *out ? out : "failed");
	_cleanup_json_ json_object *o = NULL;
	if (st_json_parse(out, "credential helper answer", &o, err) < 0 || !json_object_is_type(o, json_type_object))
		return st_error_fail(err, EPROTO, "credentials for %s: docker-credential-%s get answered no JSON record",
				     domain, name);
	const char *u = st_json_str(o, "Username"), *s = st_json_str(o, "Secret");
	if (!*u && !*s)
		return -ENOENT;
	if (strcmp(u, "<token>") == 0)
		return st_error_fail(err, ENOTSUP,
				     "credentials for %s: docker-credential-%s holds an identity token (OAuth), which strata "
				     "does not use: store a user name and password or token",
				     domain, name);
	*user = strdup(u);
	*pass = strdup(s);
	if (!*user || !*pass) {
		free(*user);
		free(*pass);
		*user = *pass = NULL;
		return st_error_set(err, ENOMEM, "credentials for %s", domain);
	}
	return 0;
}

/* ---------------------------------------------------------- get, set, rm */

static int creds_from(const char *path, const char *domain, char **user, char **pass, struct st_error *err)
{
	_cleanup_json_ json_object *root = NULL;
	int r = load_file(path, &root, err);
	if (r < 0)
		return r;
	const char *helper;
	if ((r = helper_for(root, path, domain, &helper, err)) < 0)
		return r;
	if (helper)
		return helper_get(helper, domain, user, pass, err);
	json_object *auths, *e;
	if (!json_object_object_get_ex(root, "auths", &auths) || !json_object_object_get_ex(auths, auth_key(domain), &e))
		return -ENOENT;
	const char *a = st_json_str(e, "auth");
	if (!*a)
		return -ENOENT;
	r = decode_auth(a, user, pass);
	if (r < 0)
		return st_error_fail(err, -r, "credentials \"%s\": the entry for %s is not base64 of user:password", path,
				     domain);
	return 0;
}

int reg_creds_get(const char *auth_file, const char *domain, char **user, char **pass, struct st_error *err)
{
	*user = *pass = NULL;
	int r = creds_from(auth_file, domain, user, pass, err);
	if (r != -ENOENT)
		return r;
	/* docker's own file, read only */
	const char *dc = getenv("DOCKER_CONFIG"), *home = getenv("HOME");
	char p[4096];
	if (dc && *dc)
		snprintf(p, sizeof(p), "%s/config.json", dc);
	else if (home && *home)
		snprintf(p, sizeof(p), "%s/.docker/config.json", home);
	else
		return -ENOENT;
	return creds_from(p, domain, user, pass, err);
}

/* mkdir -p of the user's config directory (new ones 0700). Plain paths:
 * this is the user's own tree, where symlinked homes are common. */
static int mkdir_user(const char *dir, struct st_error *err)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s", dir);
	for (char *s = p + 1;; s++) {
		if (*s == '/' || !*s) {
			char c = *s;
			*s = '\0';
			if (mkdir(p, 0700) < 0 && errno != EEXIST)
				return st_error_set(err, errno, "credentials: mkdir \"%s\"", p);
			*s = c;
			if (!c)
				break;
		}
	}
	return 0;
}

/* The helper's store or erase for a domain: 1 done, -ENOENT (erase of
 * nothing), or an error. */
static int helper_update(const char *helper, const char *domain, const char *user, const char *pass,
			 struct st_error *err)
{
	_cleanup_free_ char *out = NULL;
	_cleanup_json_ json_object *rec = NULL;
	const char *input = auth_key(domain);
	if (user) {
		rec = json_object_new_object();
		json_object_object_add(rec, "ServerURL", json_object_new_string(auth_key(domain)));
		json_object_object_add(rec, "Username", json_object_new_string(user));
		json_object_object_add(rec, "Secret", json_object_new_string(pass));
		input = json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	}
	int r = helper_run(helper, user ? "store" : "erase", input, &out, err);
	if (r < 0)
		return st_error_wrap(err, "credentials for %s", domain);
	if (r != 0)
		return !user && helper_not_found(out)
			       ? -ENOENT
			       : st_error_fail(err, EIO, "credentials for %s: docker-credential-%s %s: %s", domain, helper,
					       user ? "store" : "erase", *out ? out : "failed");
	return 1;
}

/* Read-modify-write of the file: 0600 in a 0700 directory, atomically; or
 * the helper it names. auth NULL removes. */
static int update_file(const char *path, const char *domain, const char *user, const char *pass,
		       struct st_error *err)
{
	_cleanup_json_ json_object *root = NULL;
	int r = load_file(path, &root, err);
	if (r == -ENOENT) {
		if (!user)
			return -ENOENT;
		root = json_object_new_object();
	} else if (r < 0) {
		return r;
	}
	const char *helper;
	if ((r = helper_for(root, path, domain, &helper, err)) < 0)
		return r;
	if (helper)
		return (r = helper_update(helper, domain, user, pass, err)) < 0 ? r : 0;
	json_object *auths;
	if (!json_object_object_get_ex(root, "auths", &auths) || !json_object_is_type(auths, json_type_object)) {
		auths = json_object_new_object();
		json_object_object_add(root, "auths", auths);
	}
	const char *key = auth_key(domain);
	if (!user) {
		json_object *e;
		if (!json_object_object_get_ex(auths, key, &e))
			return -ENOENT;
		json_object_object_del(auths, key);
	} else {
		_cleanup_free_ char *a = reg_encode_auth(user, pass);
		if (!a)
			return st_error_set(err, ENOMEM, "credentials");
		json_object *e = json_object_new_object();
		json_object_object_add(e, "auth", json_object_new_string(a));
		json_object_object_add(auths, key, e);
	}
	char dir[4096];
	const char *base = split_path(path, dir, sizeof(dir));
	if ((r = mkdir_user(dir, err)) < 0)
		return r;
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return st_error_set(err, errno, "credentials: open \"%s\"", dir);
	const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	r = st_atomic_write_at(dfd, base, text, strlen(text), 0600, err);
	return r < 0 ? st_error_wrap(err, "credentials \"%s\"", path) : 0;
}

int reg_creds_set(const char *auth_file, const char *domain, const char *user, const char *pass,
		  struct st_error *err)
{
	if (!*user || strchr(user, ':'))
		return st_error_fail(err, EINVAL, "login: the user name must be non-empty and without \":\"");
	return update_file(auth_file, domain, user, pass, err);
}

int reg_creds_remove(const char *auth_file, const char *domain, struct st_error *err)
{
	return update_file(auth_file, domain, NULL, NULL, err);
}
