/* Finding an out-of-process plugin by name, where Docker looks (and the
 * strata equivalents), so that plugins installed for Docker work as they
 * are. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/base.h"
#include "plugin.h"

static const char *const vp_socket_dirs[] = {"/run/docker/plugins", "/run/strata/plugins"};
static const char *const vp_spec_dirs[] = {"/etc/docker/plugins", "/usr/lib/docker/plugins", "/etc/strata/plugins",
					   "/usr/lib/strata/plugins"};

static bool vp_is_socket(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static int vp_set_url(struct vp_endpoint *ep, const char *url, bool tls, struct st_error *err)
{
	if (st_str_has_prefix(url, "unix://")) {
		const char *p = url + 7;
		if (p[0] != '/' || strlen(p) >= sizeof(ep->sock))
			return st_error_fail(err, EINVAL, "volume plugin %s: bad address \"%s\" in \"%s\"", ep->name, url,
					     ep->found);
		snprintf(ep->sock, sizeof(ep->sock), "%s", p);
		snprintf(ep->base, sizeof(ep->base), "http://plugin");
		return 0;
	}
	if (st_str_has_prefix(url, "tcp://") || st_str_has_prefix(url, "http://")) {
		const char *hp = strstr(url, "://") + 3;
		size_t hl = strcspn(hp, "/");
		if (hl == 0 || hl > 300)
			return st_error_fail(err, EINVAL, "volume plugin %s: bad address \"%s\" in \"%s\"", ep->name, url,
					     ep->found);
		snprintf(ep->base, sizeof(ep->base), "%s://%.*s", tls ? "https" : "http", (int)hl, hp);
		return 0;
	}
	return st_error_fail(err, EINVAL, "volume plugin %s: unsupported address \"%s\" in \"%s\" (unix:// or tcp://)",
			     ep->name, url, ep->found);
}

static int vp_read_spec(struct vp_endpoint *ep, const char *path, struct st_error *err)
{
	_cleanup_free_ char *text = NULL;
	int r = st_read_file_at(AT_FDCWD, path, &text, NULL, err);
	if (r < 0)
		return st_error_wrap(err, "volume plugin %s", ep->name);
	snprintf(ep->found, sizeof(ep->found), "%s", path);
	if (st_str_has_suffix(path, ".spec")) {
		char *s = text + strspn(text, " \t\r\n");
		s[strcspn(s, " \t\r\n")] = '\0';
		return vp_set_url(ep, s, false, err);
	}
	_cleanup_json_ json_object *o = NULL;
	if ((r = st_json_parse(text, path, &o, err)) < 0)
		return st_error_wrap(err, "volume plugin %s", ep->name);
	json_object *tls = NULL, *v;
	bool has_tls = json_object_object_get_ex(o, "TLSConfig", &tls) && json_object_is_type(tls, json_type_object);
	if (has_tls) {
		snprintf(ep->ca, sizeof(ep->ca), "%s", st_json_str(tls, "CAFile"));
		snprintf(ep->cert, sizeof(ep->cert), "%s", st_json_str(tls, "CertFile"));
		snprintf(ep->key, sizeof(ep->key), "%s", st_json_str(tls, "KeyFile"));
		ep->insecure = json_object_object_get_ex(tls, "InsecureSkipVerify", &v) && json_object_get_boolean(v);
	}
	return vp_set_url(ep, st_json_str(o, "Addr"), has_tls, err);
}

static int vp_search(const char *dir, const char *name, bool sockets, bool specs, struct vp_endpoint *ep,
		     struct st_error *err)
{
	char p[PATH_MAX];
	if (sockets) {
		const char *forms[] = {"%s/%s.sock", "%s/%s/%s.sock"};
		for (size_t i = 0; i < ST_ARRAY_SIZE(forms); i++) {
			if (i == 0)
				snprintf(p, sizeof(p), forms[i], dir, name);
			else
				snprintf(p, sizeof(p), forms[i], dir, name, name);
			if (vp_is_socket(p)) {
				snprintf(ep->found, sizeof(ep->found), "%s", p);
				snprintf(ep->sock, sizeof(ep->sock), "%s", p);
				snprintf(ep->base, sizeof(ep->base), "http://plugin");
				return 1;
			}
		}
	}
	if (specs) {
		const char *exts[] = {"spec", "json"};
		for (size_t i = 0; i < ST_ARRAY_SIZE(exts); i++) {
			snprintf(p, sizeof(p), "%s/%s.%s", dir, name, exts[i]);
			if (access(p, R_OK) == 0) {
				int r = vp_read_spec(ep, p, err);
				return r < 0 ? r : 1;
			}
		}
	}
	return 0;
}

int vp_discover(const char *name, struct vp_endpoint *ep, struct st_error *err)
{
	memset(ep, 0, sizeof(*ep));
	snprintf(ep->name, sizeof(ep->name), "%s", name);
	const char *env = getenv("STRATA_PLUGIN_DIRS");
	char looked[2048] = "";
	int r = 0;
	if (env) {
		_cleanup_free_ char *dirs = st_strdup(env);
		char *save = NULL;
		for (char *d = dirs ? strtok_r(dirs, ":", &save) : NULL; d && r == 0; d = strtok_r(NULL, ":", &save)) {
			r = vp_search(d, name, true, true, ep, err);
			snprintf(looked + strlen(looked), sizeof(looked) - strlen(looked), "%s%s", looked[0] ? ", " : "", d);
		}
	} else {
		for (size_t i = 0; i < ST_ARRAY_SIZE(vp_socket_dirs) && r == 0; i++) {
			r = vp_search(vp_socket_dirs[i], name, true, false, ep, err);
			snprintf(looked + strlen(looked), sizeof(looked) - strlen(looked), "%s%s", looked[0] ? ", " : "",
				 vp_socket_dirs[i]);
		}
		for (size_t i = 0; i < ST_ARRAY_SIZE(vp_spec_dirs) && r == 0; i++) {
			r = vp_search(vp_spec_dirs[i], name, false, true, ep, err);
			snprintf(looked + strlen(looked), sizeof(looked) - strlen(looked), ", %s", vp_spec_dirs[i]);
		}
	}
	if (r < 0)
		return r;
	if (r == 0)
		return st_error_fail(err, ENOENT,
				     "volume driver \"%s\" not found: not built in, no C plugin of that name, and no plugin "
				     "socket %s.sock or spec %s.spec/.json in %s",
				     name, name, name, looked);
	return 0;
}
