/* Editing the image config a build step works on (the json-c object of a
 * state): its config section, Env, maps, the shell form of commands. */

#include "base/base.h"
#include "store/store.h"
#include "image/image.h"
#include "container/container.h"
#include "builder/builder.h"
#include "dockerfile.h"
#include "build_int.h"

/* ------------------------------------------------------------- config */

json_object *bld_cfg_config(json_object *cfg)
{
	json_object *c;
	if (!json_object_object_get_ex(cfg, "config", &c) || !json_object_is_type(c, json_type_object)) {
		c = json_object_new_object();
		json_object_object_add(cfg, "config", c);
	}
	return c;
}

const char *bld_cfg_get(json_object *cfg, const char *key)
{
	json_object *v;
	if (!json_object_object_get_ex(bld_cfg_config(cfg), key, &v) || !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

json_object *bld_empty_config(void)
{
	json_object *cfg = json_object_new_object();
	json_object_object_add(cfg, "architecture", json_object_new_string("amd64"));
	json_object_object_add(cfg, "os", json_object_new_string("linux"));
	json_object_object_add(cfg, "config", json_object_new_object());
	json_object *rootfs = json_object_new_object();
	json_object_object_add(rootfs, "type", json_object_new_string("layers"));
	json_object_object_add(rootfs, "diff_ids", json_object_new_array());
	json_object_object_add(cfg, "rootfs", rootfs);
	json_object_object_add(cfg, "history", json_object_new_array());
	return cfg;
}

json_object *bld_copy_json(json_object *o)
{
	json_object *c = NULL;
	if (json_object_deep_copy(o, &c, NULL) < 0)
		return NULL;
	return c;
}

/* Env as "K=V" strings and as a key/value list. */
void bld_env_list(json_object *cfg, struct st_kvlist *out)
{
	json_object *env;
	if (!json_object_object_get_ex(bld_cfg_config(cfg), "Env", &env) || !json_object_is_type(env, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(env); i++) {
		const char *kv = json_object_get_string(json_object_array_get_idx(env, i));
		const char *eq = kv ? strchr(kv, '=') : NULL;
		if (!eq)
			continue;
		char key[256];
		snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
		st_kvlist_add(out, key, "%s", eq + 1);
	}
}

void bld_env_set(json_object *cfg, const char *key, const char *value)
{
	json_object *c = bld_cfg_config(cfg), *env;
	if (!json_object_object_get_ex(c, "Env", &env) || !json_object_is_type(env, json_type_array)) {
		env = json_object_new_array();
		json_object_object_add(c, "Env", env);
	}
	char *kv = st_asprintf("%s=%s", key, value);
	size_t kl = strlen(key);
	for (size_t i = 0; i < json_object_array_length(env); i++) {
		const char *cur = json_object_get_string(json_object_array_get_idx(env, i));
		if (cur && strncmp(cur, key, kl) == 0 && cur[kl] == '=') {
			json_object_array_put_idx(env, i, json_object_new_string(kv));
			free(kv);
			return;
		}
	}
	json_object_array_add(env, json_object_new_string(kv));
	free(kv);
}

void bld_map_set(json_object *cfg, const char *field, const char *key, json_object *val)
{
	json_object *c = bld_cfg_config(cfg), *m;
	if (!json_object_object_get_ex(c, field, &m) || !json_object_is_type(m, json_type_object)) {
		m = json_object_new_object();
		json_object_object_add(c, field, m);
	}
	json_object_object_add(m, key, val);
}

json_object *bld_strv_array(char *const *v, size_t n)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

/* The shell of SHELL (default /bin/sh -c) plus the command line. */
json_object *bld_shell_form(json_object *cfg, const char *cmd)
{
	json_object *sh, *a = json_object_new_array();
	if (json_object_object_get_ex(bld_cfg_config(cfg), "Shell", &sh) && json_object_is_type(sh, json_type_array) &&
	    json_object_array_length(sh) > 0) {
		for (size_t i = 0; i < json_object_array_length(sh); i++)
			json_object_array_add(a, json_object_get(json_object_array_get_idx(sh, i)));
	} else {
		json_object_array_add(a, json_object_new_string("/bin/sh"));
		json_object_array_add(a, json_object_new_string("-c"));
	}
	json_object_array_add(a, json_object_new_string(cmd));
	return a;
}

char *bld_join_array(json_object *a)
{
	size_t len = 1;
	for (size_t i = 0; i < json_object_array_length(a); i++)
		len += strlen(json_object_get_string(json_object_array_get_idx(a, i))) + 1;
	char *s = calloc(1, len);
	for (size_t i = 0; s && i < json_object_array_length(a); i++) {
		if (i)
			strcat(s, " ");
		strcat(s, json_object_get_string(json_object_array_get_idx(a, i)));
	}
	return s;
}
