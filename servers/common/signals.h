/* Serving until a signal: the termination signals are blocked in every
 * thread (call srv_signals_block before starting any) and taken by the
 * main thread with sigwaitinfo, so a handler never runs in the middle of a
 * request. SIGPIPE is ignored: a client gone mid-reply is an EPIPE. */
#ifndef SRV_SIGNALS_H
#define SRV_SIGNALS_H

#include <signal.h>

/* Block SIGINT, SIGTERM, SIGHUP and SIGQUIT; ignore SIGPIPE. */
int srv_signals_block(sigset_t *set);
/* Wait for one of them; returns its number. */
int srv_wait_signal(const sigset_t *set);
/* Unblock them again (for a child process after fork). */
void srv_signals_unblock(const sigset_t *set);

#endif
