/* The Docker-protocol plugin adapter's private interface: finding a plugin
 * by name, and calling it (HTTP POST of JSON through libcurl). */
#ifndef ST_VOL_PLUGIN_H
#define ST_VOL_PLUGIN_H

#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>

#include "strata.h"

struct vp_endpoint {
	char name[64];
	char found[PATH_MAX]; /* the socket or spec file it was found by */
	char sock[PATH_MAX];  /* unix socket, or "" for tcp */
	char base[512];       /* "http://plugin", "http://host:port", "https://..." */
	char ca[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];
	bool insecure;
};

/* Sockets NAME.sock or NAME/NAME.sock in /run/docker/plugins and
 * /run/strata/plugins; spec files NAME.spec (a URL) or NAME.json
 * ({"Addr","TLSConfig"}) in /etc/docker/plugins, /usr/lib/docker/plugins,
 * /etc/strata/plugins, /usr/lib/strata/plugins. $STRATA_PLUGIN_DIRS
 * (colon-separated) replaces all of them, searched for both. */
int vp_discover(const char *name, struct vp_endpoint *ep, struct st_error *err);

struct vp_client {
	struct vp_endpoint ep;
	double timeout;          /* per call, s ($STRATA_PLUGIN_TIMEOUT, 30) */
	double activate_timeout; /* connect retries, s ($STRATA_PLUGIN_ACTIVATE_TIMEOUT, 15) */
	void *curl;
};

int vp_client_init(struct vp_client *c, const struct vp_endpoint *ep, struct st_error *err);
void vp_client_free(struct vp_client *c);
/* POST /METHOD (e.g. "VolumeDriver.Mount") with req as JSON (NULL: empty
 * body). On success resp is the reply object; a reply whose "Err" is not
 * empty is an error with that text. -ECONNREFUSED when the plugin cannot be
 * reached, -ETIMEDOUT past the timeout, -EPROTO for a malformed reply,
 * -EOPNOTSUPP for HTTP 404 (a method the plugin does not have). */
int vp_call(struct vp_client *c, const char *method, json_object *req, json_object **resp, struct st_error *err);
/* /Plugin.Activate, retried with backoff while the plugin cannot be reached
 * (it may be starting), for activate_timeout at most; the plugin must
 * implement VolumeDriver. */
int vp_activate(struct vp_client *c, struct st_error *err);

#endif
