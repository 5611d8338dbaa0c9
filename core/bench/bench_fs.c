/* Scratch filesystems for `strata bench`: btrfs is measured on a loop-mounted
 * image when the scratch directory is not on btrfs itself. mkfs.btrfs is run
 * as a program (there is no library for making a filesystem); the loop device
 * is set up by libmount ("loop" option, autoclear), so unmounting the
 * filesystem releases it. */
#include <errno.h>
#include <fcntl.h>
#include <libmount/libmount.h>
#include <limits.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "base/base.h"
#include "bench/bench.h"

extern char **environ;

/* Run argv (looked up in PATH), output to /dev/null; 0 when it exits 0. */
static int bench_spawn(char *const argv[], struct st_error *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	pid_t pid;
	int r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		return st_error_set(err, r, "run %s", argv[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return st_error_set(err, errno, "wait for %s", argv[0]);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return st_error_fail(err, EIO, "%s failed (%s %d)", argv[0],
				     WIFEXITED(status) ? "exit status" : "signal",
				     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return 0;
}

int st_bench_btrfs_mount(const char *dir, int64_t size, char *mnt, size_t len, struct st_error *err)
{
	char img[PATH_MAX];
	snprintf(img, sizeof(img), "%s/btrfs.img", dir);
	snprintf(mnt, len, "%s/mnt", dir);
	_cleanup_close_ int fd = open(img, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return st_error_set(err, errno, "create btrfs image \"%s\"", img);
	if (ftruncate(fd, size) < 0)
		return st_error_set(err, errno, "size btrfs image \"%s\"", img);
	char *mkfs[] = {"mkfs.btrfs", "-q", "-f", img, NULL};
	int r = bench_spawn(mkfs, err);
	if (r < 0)
		return st_error_wrap(err, "make a btrfs image (mkfs.btrfs, from btrfs-progs)");
	if (mkdir(mnt, 0700) < 0 && errno != EEXIST)
		return st_error_set(err, errno, "create \"%s\"", mnt);
	struct libmnt_context *cxt = mnt_new_context();
	if (!cxt)
		return st_error_set(err, ENOMEM, "mount btrfs image \"%s\"", img);
	mnt_context_disable_mtab(cxt, 1);
	mnt_context_set_source(cxt, img);
	mnt_context_set_target(cxt, mnt);
	mnt_context_set_fstype(cxt, "btrfs");
	mnt_context_set_options(cxt, "loop");
	r = mnt_context_mount(cxt);
	int rc = r == 0 ? mnt_context_get_status(cxt) == 1 ? 0 : -EIO : r;
	int syserr = mnt_context_get_syscall_errno(cxt);
	mnt_free_context(cxt);
	if (rc != 0)
		return st_error_set(err, syserr ? syserr : (r < 0 ? -r : EIO), "loop-mount btrfs image \"%s\" on \"%s\"",
				    img, mnt);
	return 0;
}

static int cmp_desc(const void *a, const void *b)
{
	return strcmp(*(char *const *)b, *(char *const *)a);
}

void st_bench_umount_below(const char *dir)
{
	char real[PATH_MAX];
	if (!realpath(dir, real))
		return;
	size_t rl = strlen(real);
	struct libmnt_table *tb = mnt_new_table_from_file("/proc/self/mountinfo");
	if (!tb)
		return;
	char **v = NULL;
	size_t n = 0;
	struct libmnt_iter *it = mnt_new_iter(MNT_ITER_FORWARD);
	struct libmnt_fs *fs;
	while (it && mnt_table_next_fs(tb, it, &fs) == 0) {
		const char *t = mnt_fs_get_target(fs);
		if (t && strncmp(t, real, rl) == 0 && (t[rl] == '\0' || t[rl] == '/'))
			st_strv_push(&v, &n, t);
	}
	mnt_free_iter(it);
	mnt_unref_table(tb);
	/* reverse order: a mount below another goes first */
	if (n)
		qsort(v, n, sizeof(*v), cmp_desc);
	for (size_t i = 0; i < n; i++)
		umount2(v[i], MNT_DETACH);
	st_strv_free(v, n);
}
