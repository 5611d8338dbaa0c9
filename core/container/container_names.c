/* Container names: containers/.names/<name> is a symbolic link to the
 * container's id, so that finding a container by name reads one link and one
 * config, however many containers the store has.
 *
 * The configs stay the truth: a link counts only when the config it points
 * to has that name. Create writes the link (under the store lock) before it
 * publishes the container; removal drops it after the container's directory
 * is renamed away. A kill between the two leaves a link to no container,
 * which counts as no link. .names/.complete says that every named container
 * has its link; a store made before the index gets it, under the store lock,
 * the first time a container is named, and is scanned until then. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "container_int.h"

#define NAMES ".names"
#define COMPLETE ".complete"

static bool config_has_name(int dfd, const char *id, const char *name)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/config.json", id);
	_cleanup_json_ json_object *o = NULL;
	struct st_error e;
	return st_json_load_at(dfd, p, &o, &e) == 0 && strcmp(st_json_str(o, "Name"), name) == 0;
}

/* the id name's link points to, when that container has the name */
static bool link_to(int dfd, int nfd, const char *name, char id[65])
{
	char buf[72];
	ssize_t l = readlinkat(nfd, name, buf, sizeof(buf) - 1);
	if (l != 64)
		return false;
	buf[l] = '\0';
	if (!st_valid_id(buf) || !config_has_name(dfd, buf, name))
		return false;
	memcpy(id, buf, 65);
	return true;
}

/* every container's config (a store without a complete index) */
static int scan(int dfd, const char *name, char id[65])
{
	char **names;
	size_t n;
	int r = st_list_dir(dfd, &names, &n);
	if (r < 0)
		return r;
	r = -ENOENT;
	for (size_t i = 0; i < n && r < 0; i++)
		if (names[i][0] != '.' && st_valid_id(names[i]) && config_has_name(dfd, names[i], name)) {
			snprintf(id, 65, "%s", names[i]);
			r = 0;
		}
	st_strv_free(names, n);
	return r;
}

int ct_name_find(int dfd, const char *name, char id[65])
{
	_cleanup_close_ int nfd = openat(dfd, NAMES, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (nfd >= 0 && link_to(dfd, nfd, name, id))
		return 0;
	if (nfd >= 0 && faccessat(nfd, COMPLETE, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return -ENOENT;
	return scan(dfd, name, id);
}

/* links for the named containers of a store made before the index */
static int complete(int dfd, int nfd)
{
	char **names;
	size_t n;
	int r = st_list_dir(dfd, &names, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r >= 0; i++) {
		if (names[i][0] == '.' || !st_valid_id(names[i]))
			continue;
		char p[128];
		snprintf(p, sizeof(p), "%s/config.json", names[i]);
		_cleanup_json_ json_object *o = NULL;
		struct st_error e;
		const char *nm = st_json_load_at(dfd, p, &o, &e) == 0 ? st_json_str(o, "Name") : "";
		if (*nm && nm[0] != '.' && !strchr(nm, '/'))
			r = st_symlink_replace_at(nfd, nm, names[i]);
	}
	st_strv_free(names, n);
	if (r >= 0 && (r = st_fsync_dir(nfd)) >= 0) {
		int fd = openat(nfd, COMPLETE, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
		close(fd);
		r = st_fsync_dir(nfd);
	}
	return r;
}

int ct_name_link(int dfd, const char *name, const char *id, struct st_error *err)
{
	if (mkdirat(dfd, NAMES, 0700) < 0 && errno != EEXIST)
		return st_error_set(err, errno, "create the container name index containers/" NAMES);
	_cleanup_close_ int nfd = openat(dfd, NAMES, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (nfd < 0)
		return st_error_set(err, errno, "open the container name index containers/" NAMES);
	int r = 0;
	if (faccessat(nfd, COMPLETE, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && (r = complete(dfd, nfd)) < 0)
		return st_error_set(err, -r, "index the container names in containers/" NAMES);
	if ((r = st_symlink_replace_at(nfd, name, id)) < 0 || (r = st_fsync_dir(nfd)) < 0)
		return st_error_set(err, -r, "record the container name %s in containers/" NAMES, name);
	return 0;
}

void ct_name_unlink(int dfd, const char *name, const char *id)
{
	_cleanup_close_ int nfd = openat(dfd, NAMES, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	char buf[72];
	ssize_t l = nfd >= 0 ? readlinkat(nfd, name, buf, sizeof(buf) - 1) : -1;
	if (l == 64 && memcmp(buf, id, 64) == 0)
		unlinkat(nfd, name, 0);
}
