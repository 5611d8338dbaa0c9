/* Internal helpers shared by all of libstrata: cleanup attributes, ownership
 * transfer, small string and allocation helpers. */
#ifndef ST_UTIL_H
#define ST_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "strata.h"

#define _cleanup_(f) __attribute__((cleanup(f)))
#define ST_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void st_freep(void *p) { free(*(void **)p); }
static inline void st_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
static inline void st_fclosep(FILE **f) { if (*f) fclose(*f); }
static inline void st_closedirp(DIR **d) { if (*d) closedir(*d); }

#define _cleanup_free_ _cleanup_(st_freep)
#define _cleanup_close_ _cleanup_(st_closep)
#define _cleanup_fclose_ _cleanup_(st_fclosep)
#define _cleanup_closedir_ _cleanup_(st_closedirp)

/* Hand ownership on: returns the value and leaves the variable empty. */
static inline int st_take_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}
#define st_take_ptr(p) ({ __typeof__(p) _t = (p); (p) = NULL; _t; })

/* Allocation failures are reported as -ENOMEM, never abort. */
char *st_strdup(const char *s);
char *st_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void st_strv_free(char **v, size_t n);
int st_strv_push(char ***v, size_t *n, const char *s);
bool st_str_has_prefix(const char *s, const char *prefix);
bool st_str_has_suffix(const char *s, const char *suffix);

/* Random lowercase hex of 2*nbytes characters (getrandom). */
int st_random_hex(char *out, size_t nbytes);


/* Start time of process pid (clock ticks since boot, /proc/PID/stat field
 * 22), -1 when there is no such process: with the pid, it names a process
 * (pids are reused). */
int64_t st_proc_start(pid_t pid);

/* Monotonic clock in seconds. */
double st_now(void);

#endif
