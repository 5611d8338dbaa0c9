/* aufs mount data and layer chains: pure string work, no kernel needed.
 *
 * The kernel copies at most one page of mount(2) data, so a long branch
 * list (deep images, long home paths) cannot go in one mount: the first
 * mount takes the read-write branch and as many read-only branches as fit
 * before the options, and each remaining branch is added below the others
 * with a remount "append:BRANCH=ro+wh", which is how Docker's driver
 * mounted 100+ layer images. */
#include <inttypes.h>

#include "base/base.h"
#include "aufs.h"

bool aufs_branch_path_ok(const char *path)
{
	/* ':' separates branches, ',' options, '=' a branch from its mode */
	return path && path[0] == '/' && !strpbrk(path, ":,=\n");
}

void aufs_mount_plan_free(struct aufs_mount_plan *plan)
{
	free(plan->data);
	st_strv_free(plan->appends, plan->nappends);
	memset(plan, 0, sizeof(*plan));
}

int aufs_mount_plan(const char *rw, const char *const *ro, size_t nro, size_t page, bool dirperm1,
		    struct aufs_mount_plan *plan, struct st_error *err)
{
	memset(plan, 0, sizeof(*plan));
	if (!aufs_branch_path_ok(rw))
		return st_error_fail(err, EINVAL, "aufs: cannot use \"%s\" as a branch (absolute, without ':' ',' '=')", rw);
	for (size_t i = 0; i < nro; i++)
		if (!aufs_branch_path_ok(ro[i]))
			return st_error_fail(err, EINVAL, "aufs: cannot use \"%s\" as a branch (absolute, without ':' ',' '=')",
					     ro[i]);
	const char *opts = dirperm1 ? ",dio,xino=" AUFS_XINO ",dirperm1" : ",dio,xino=" AUFS_XINO;
	size_t limit = page - 1; /* the kernel's copy ends with a NUL */
	size_t olen = strlen(opts);
	char *data = malloc(page);
	if (!data)
		return st_error_set(err, ENOMEM, "aufs: mount options");
	int n = snprintf(data, page, "br:%s=rw", rw);
	if (n < 0 || (size_t)n + olen > limit) {
		free(data);
		return st_error_fail(err, ENAMETOOLONG, "aufs: branch \"%s\" does not fit in the %zu bytes of mount data",
				     rw, limit);
	}
	size_t len = (size_t)n, i = 0;
	for (; i < nro; i++) {
		size_t add = 1 + strlen(ro[i]) + strlen("=ro+wh");
		if (len + add + olen > limit)
			break;
		len += (size_t)sprintf(data + len, ":%s=ro+wh", ro[i]);
	}
	memcpy(data + len, opts, olen + 1);
	plan->data = data;
	for (; i < nro; i++) {
		char *a = st_asprintf("append:%s=ro+wh", ro[i]);
		if (!a || strlen(a) > limit || st_strv_push(&plan->appends, &plan->nappends, a) < 0) {
			int r = !a || strlen(a) <= limit
					? st_error_set(err, ENOMEM, "aufs: mount options")
					: st_error_fail(err, ENAMETOOLONG,
							"aufs: branch \"%s\" does not fit in the %zu bytes of mount data", ro[i],
							limit);
			free(a);
			aufs_mount_plan_free(plan);
			return r;
		}
		free(a);
	}
	return 0;
}

int aufs_chain_parse(const char *text, char ***ids, size_t *n, struct st_error *err)
{
	*ids = NULL;
	*n = 0;
	size_t line = 0;
	for (const char *p = text; p && *p;) {
		const char *end = strchr(p, '\n');
		size_t l = end ? (size_t)(end - p) : strlen(p);
		line++;
		if (l > 0) {
			char id[130];
			if (l >= sizeof(id)) {
				st_strv_free(*ids, *n);
				*ids = NULL;
				*n = 0;
				return st_error_fail(err, EINVAL, "layer chain line %zu: id too long", line);
			}
			memcpy(id, p, l);
			id[l] = '\0';
			if (!st_valid_id(id) || st_strv_push(ids, n, id) < 0) {
				int r = st_valid_id(id) ? st_error_set(err, ENOMEM, "layer chain")
							: st_error_fail(err, EINVAL, "layer chain line %zu: invalid layer id \"%s\"",
									line, id);
				st_strv_free(*ids, *n);
				*ids = NULL;
				*n = 0;
				return r;
			}
		}
		p = end ? end + 1 : p + l;
	}
	return 0;
}

char *aufs_chain_format(const char *parent, char *const *pchain, size_t npchain)
{
	if (!parent)
		return st_strdup("");
	size_t len = strlen(parent) + 2;
	for (size_t i = 0; i < npchain; i++)
		len += strlen(pchain[i]) + 1;
	char *s = malloc(len);
	if (!s)
		return NULL;
	size_t o = (size_t)sprintf(s, "%s\n", parent);
	for (size_t i = 0; i < npchain; i++)
		o += (size_t)sprintf(s + o, "%s\n", pchain[i]);
	return s;
}

bool aufs_filesystems_has_aufs(const char *text)
{
	/* lines are "nodev\tNAME" or "\tNAME" */
	for (const char *p = text; p && *p;) {
		const char *end = strchr(p, '\n');
		size_t l = end ? (size_t)(end - p) : strlen(p);
		const char *name = p + l;
		while (name > p && name[-1] != '\t' && name[-1] != ' ')
			name--;
		if ((size_t)(p + l - name) == 4 && memcmp(name, "aufs", 4) == 0)
			return true;
		p = end ? end + 1 : p + l;
	}
	return false;
}

bool aufs_uid_map_is_initial(const char *text)
{
	uint64_t in, out, count;
	int used = 0;
	if (!text || sscanf(text, " %" SCNu64 " %" SCNu64 " %" SCNu64 " %n", &in, &out, &count, &used) != 3)
		return false;
	return in == 0 && out == 0 && count == UINT32_MAX && text[used] == '\0';
}
