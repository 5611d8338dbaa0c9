/* The serve-until-signal loop's signal handling (see signals.h). */
#include <errno.h>
#include <pthread.h>

#include "signals.h"

int srv_signals_block(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
	signal(SIGPIPE, SIG_IGN);
	return -pthread_sigmask(SIG_BLOCK, set, NULL);
}

int srv_wait_signal(const sigset_t *set)
{
	for (;;) {
		int sig = sigwaitinfo(set, NULL);
		if (sig > 0)
			return sig;
		if (errno != EINTR)
			return SIGTERM;
	}
}

void srv_signals_unblock(const sigset_t *set)
{
	pthread_sigmask(SIG_UNBLOCK, set, NULL);
}
