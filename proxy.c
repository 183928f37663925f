/*
 * NAME
 *	proxy - the before-queue SMTP proxy process
 * DESCRIPTION
 *	Placeholder; the poll() loop follows.
 */
#include "detach.h"

/* proxy_run - run the proxy until SIGTERM */

int
proxy_run(const char *path, struct cfg *cfg)
{
	(void)path;
	(void)cfg;
	log_error("proxy: not yet built");
	return (DETACH_EX_SOFTWARE);
}
