/*
 * NAME
 *	http.c - HTTP/1.1 PUT uploader, BearSSL, S3 SigV4 (placeholder)
 *
 * DESCRIPTION
 *	Placeholder so the build links; the uploader replaces it.
 */
#include <poll.h>
#include <stdio.h>

#include "detach.h"

struct http_store *
http_store_new(const struct http_conf *conf, char *why, size_t whylen)
{
	(void)conf;
	snprintf(why, whylen, "http stores are not built yet");
	return (0);
}

void
http_store_free(struct http_store *st)
{
	(void)st;
}

int
http_url_check(const char *store, char *why, size_t whylen)
{
	(void)store;
	snprintf(why, whylen, "http stores are not built yet");
	return (-1);
}

struct http_xfer *
http_xfer_new(struct http_store *st, const struct http_object *obj, int64_t now)
{
	(void)st;
	(void)obj;
	(void)now;
	return (0);
}

int
http_xfer_poll(struct http_xfer *x, struct pollfd *pfd, int max, int64_t *dl)
{
	(void)x;
	(void)pfd;
	(void)max;
	(void)dl;
	return (0);
}

void
http_xfer_event(struct http_xfer *x, const struct pollfd *pfd, int n,
    int64_t now)
{
	(void)x;
	(void)pfd;
	(void)n;
	(void)now;
}

int
http_xfer_state(const struct http_xfer *x)
{
	(void)x;
	return (HTTP_XFER_FAILED);
}

const char *
http_xfer_why(const struct http_xfer *x)
{
	(void)x;
	return ("http stores are not built yet");
}

void
http_xfer_free(struct http_xfer *x)
{
	(void)x;
}

int
http_upload_wait(struct http_store *st, const struct http_object *obj,
    char *why, size_t whylen)
{
	(void)st;
	(void)obj;
	snprintf(why, whylen, "http stores are not built yet");
	return (-1);
}
