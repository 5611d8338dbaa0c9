/* Docker's layer ids as strata driver layer ids: "docker.NAME.ID", so a
 * plugin's layers never meet strata's own (random hex cache ids and
 * container ids) and each is known for a docker plugin's, and whose. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dp.h"

bool dp_name_valid(const char *name)
{
	if (!name || !isalnum((unsigned char)name[0]) || strlen(name) > DP_NAME_MAX)
		return false;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
			return false;
	return true;
}

int dp_layer_id(const char *plugin, const char *docker_id, char *out, size_t len, struct st_error *err)
{
	size_t fixed = strlen(DP_LAYER_PREFIX) + strlen(plugin) + 1, max = 128 - fixed;
	bool ok = docker_id[0] && strlen(docker_id) <= max && isalnum((unsigned char)docker_id[0]);
	for (const char *p = docker_id; ok && *p; p++)
		ok = isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '-';
	if (!ok)
		return st_error_fail(err, EINVAL,
				     "invalid layer id \"%.200s\": use 1-%zu of [a-zA-Z0-9_.-], starting with a letter or digit",
				     docker_id, max);
	snprintf(out, len, "%s%s.%s", DP_LAYER_PREFIX, plugin, docker_id);
	return 0;
}

bool dp_layer_split(const char *driver_id, char *plugin, size_t len, const char **docker_id)
{
	if (strncmp(driver_id, DP_LAYER_PREFIX, strlen(DP_LAYER_PREFIX)) != 0)
		return false;
	const char *name = driver_id + strlen(DP_LAYER_PREFIX), *dot = strchr(name, '.');
	if (!dot || dot == name || (size_t)(dot - name) > DP_NAME_MAX || (size_t)(dot - name) >= len || !dot[1])
		return false;
	snprintf(plugin, len, "%.*s", (int)(dot - name), name);
	*docker_id = dot + 1;
	return dp_name_valid(plugin);
}

bool dp_layer_is_plugins(const char *driver_id)
{
	char plugin[DP_NAME_MAX + 1];
	const char *id;
	return dp_layer_split(driver_id, plugin, sizeof(plugin), &id);
}
