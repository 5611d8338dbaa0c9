/* Test helper: a tree as sorted text lines with all metadata. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/base.h"
#include "snap.h"
#include "tartest.h"

struct snap_ino {
	dev_t dev;
	ino_t ino;
	char *first;
};

struct snap {
	int flags;
	dev_t rootdev;
	char **lines;
	size_t n, cap;
	struct snap_ino *inos;
	size_t ninos;
};

static void snap_add(struct snap *s, char *line)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->lines = realloc(s->lines, s->cap * sizeof(char *));
		ck_assert_ptr_nonnull(s->lines);
	}
	s->lines[s->n++] = line;
}

static void hex(struct tt_buf *b, const void *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++) {
		char two[2] = {digits[c[i] >> 4], digits[c[i] & 15]};
		tt_buf_add(b, two, 2);
	}
}

static void xattrs(struct tt_buf *b, const char *path)
{
	char names[65536];
	ssize_t n = llistxattr(path, names, sizeof(names));
	if (n <= 0)
		return;
	/* sort the names: the kernel's order is not part of the content */
	char *v[512];
	size_t k = 0;
	for (char *p = names; p < names + n && k < 512; p += strlen(p) + 1)
		v[k++] = p;
	for (size_t i = 1; i < k; i++)
		for (size_t j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
			char *t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	for (size_t i = 0; i < k; i++) {
		unsigned char val[65536];
		ssize_t vl = lgetxattr(path, v[i], val, sizeof(val));
		tt_buf_add(b, " x:", 3);
		tt_buf_add(b, v[i], strlen(v[i]));
		tt_buf_add(b, "=", 1);
		if (vl > 0)
			hex(b, val, (size_t)vl);
	}
}

static void content_hash(struct tt_buf *b, const char *path)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "snapshot: open %s: %s", path, strerror(errno));
	struct st_sha256 h;
	ck_assert_int_eq(st_sha256_init(&h), 0);
	char buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		st_sha256_update(&h, buf, (size_t)n);
	close(fd);
	char d[ST_DIGEST_LEN + 1];
	st_sha256_final(&h, d);
	tt_buf_add(b, " ", 1);
	tt_buf_add(b, d + 7, 16);
}

static void snap_entry(struct snap *s, const char *full, const char *rel, const struct stat *st)
{
	struct tt_buf b = {0};
	char t[512];
	char type = S_ISDIR(st->st_mode) ? 'd' : S_ISREG(st->st_mode) ? 'f' : S_ISLNK(st->st_mode) ? 'l'
		  : S_ISCHR(st->st_mode) ? 'c' : S_ISBLK(st->st_mode) ? 'b' : S_ISFIFO(st->st_mode) ? 'p' : 's';
	snprintf(t, sizeof(t), "%s %c %04o %u:%u", rel, type, (unsigned)(st->st_mode & 07777),
		 (unsigned)st->st_uid, (unsigned)st->st_gid);
	tt_buf_add(&b, t, strlen(t));
	if (S_ISREG(st->st_mode)) {
		snprintf(t, sizeof(t), " size=%" PRId64, (int64_t)st->st_size);
		tt_buf_add(&b, t, strlen(t));
		content_hash(&b, full);
		if ((s->flags & SNAP_SPARSE) && (int64_t)st->st_blocks * 512 < (int64_t)st->st_size)
			tt_buf_add(&b, " sparse", 7);
	}
	if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(full, target, sizeof(target) - 1);
		ck_assert(n >= 0);
		target[n] = '\0';
		tt_buf_add(&b, " -> ", 4);
		tt_buf_add(&b, target, (size_t)n);
	}
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
		snprintf(t, sizeof(t), " rdev=%u,%u", major(st->st_rdev), minor(st->st_rdev));
		tt_buf_add(&b, t, strlen(t));
	}
	if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
		/* hardlink groups by the first path of the inode: comparable
		 * between two trees, unlike inode numbers */
		const char *first = NULL;
		for (size_t i = 0; i < s->ninos && !first; i++)
			if (s->inos[i].dev == st->st_dev && s->inos[i].ino == st->st_ino)
				first = s->inos[i].first;
		if (!first) {
			s->inos = realloc(s->inos, (s->ninos + 1) * sizeof(*s->inos));
			s->inos[s->ninos] = (struct snap_ino){st->st_dev, st->st_ino, strdup(rel)};
			first = s->inos[s->ninos++].first;
		}
		snprintf(t, sizeof(t), " nlink=%u link=%s", (unsigned)st->st_nlink, first);
		tt_buf_add(&b, t, strlen(t));
	}
	xattrs(&b, full);
	bool want_time = S_ISDIR(st->st_mode) ? (s->flags & SNAP_DIR_MTIME) : (s->flags & SNAP_MTIME);
	if (want_time && !S_ISLNK(st->st_mode)) {
		if (s->flags & SNAP_NSEC)
			snprintf(t, sizeof(t), " mtime=%" PRId64 ".%09ld", (int64_t)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
		else
			snprintf(t, sizeof(t), " mtime=%" PRId64, (int64_t)st->st_mtim.tv_sec);
		tt_buf_add(&b, t, strlen(t));
	}
	if (s->flags & SNAP_INO) {
		snprintf(t, sizeof(t), " ino=%" PRIu64, (uint64_t)st->st_ino);
		tt_buf_add(&b, t, strlen(t));
	}
	tt_buf_add(&b, "", 1);
	snap_add(s, (char *)b.data);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void snap_dir(struct snap *s, const char *full, const char *rel)
{
	DIR *d = opendir(full);
	ck_assert_msg(d != NULL, "snapshot: opendir %s: %s", full, strerror(errno));
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		names = realloc(names, (n + 1) * sizeof(char *));
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < n; i++) {
		char f[PATH_MAX], r[PATH_MAX];
		snprintf(f, sizeof(f), "%s/%s", full, names[i]);
		snprintf(r, sizeof(r), "%s%s%s", rel, rel[0] ? "/" : "", names[i]);
		struct stat st;
		ck_assert_msg(lstat(f, &st) == 0, "snapshot: lstat %s: %s", f, strerror(errno));
		snap_entry(s, f, r, &st);
		if (S_ISDIR(st.st_mode) && st.st_dev == s->rootdev)
			snap_dir(s, f, r);
		free(names[i]);
	}
	free(names);
}

char *snap_tree(const char *root, int flags)
{
	struct snap s = {.flags = flags};
	struct stat st;
	ck_assert_msg(lstat(root, &st) == 0, "snapshot: lstat %s: %s", root, strerror(errno));
	s.rootdev = st.st_dev;
	if (flags & SNAP_ROOT)
		snap_entry(&s, root, ".", &st);
	snap_dir(&s, root, "");
	struct tt_buf out = {0};
	for (size_t i = 0; i < s.n; i++) {
		tt_buf_add(&out, s.lines[i], strlen(s.lines[i]));
		tt_buf_add(&out, "\n", 1);
		free(s.lines[i]);
	}
	tt_buf_add(&out, "", 1);
	free(s.lines);
	for (size_t i = 0; i < s.ninos; i++)
		free(s.inos[i].first);
	free(s.inos);
	return (char *)out.data;
}

static size_t line_len(const char *p)
{
	const char *e = strchr(p, '\n');
	return e ? (size_t)(e - p) : strlen(p);
}

char *snap_diff(const char *a, const char *b)
{
	if (strcmp(a, b) == 0)
		return NULL;
	/* the first line that differs, and its counterpart */
	const char *pa = a, *pb = b;
	while (*pa && *pb) {
		size_t la = line_len(pa), lb = line_len(pb);
		if (la != lb || memcmp(pa, pb, la) != 0)
			break;
		pa += la + (pa[la] == '\n');
		pb += lb + (pb[lb] == '\n');
	}
	const char *ea = *pa ? pa : "(end)", *eb = *pb ? pb : "(end)";
	char *out = NULL;
	if (asprintf(&out, "  first: %.*s\n  other: %.*s", (int)line_len(ea), ea, (int)line_len(eb), eb) < 0)
		return strdup("differ");
	return out;
}
