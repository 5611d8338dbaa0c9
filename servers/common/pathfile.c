/* Atomic writes at a full path (see pathfile.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "pathfile.h"

int srv_write_path(const char *path, const void *data, size_t len, mode_t mode, struct st_error *err)
{
	char dir[PATH_MAX];
	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return st_error_fail(err, ENAMETOOLONG, "write \"%.200s\": the path is too long", path);
	char *slash = strrchr(dir, '/');
	const char *base = slash ? path + (slash - dir) + 1 : path;
	if (!base[0])
		return st_error_fail(err, EINVAL, "write \"%s\": the path names a directory", path);
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	int r = st_mkdir_p_at(AT_FDCWD, dir, 0755, err);
	if (r < 0)
		return st_error_wrap(err, "write \"%s\"", path);
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return st_error_set(err, errno, "write \"%s\"", path);
	r = st_atomic_write_at(dfd, base, data, len, mode, err);
	return r < 0 ? st_error_wrap(err, "\"%s\"", path) : 0;
}
