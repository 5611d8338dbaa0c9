/* JSON files through json-c. */
#include "base/base.h"

int st_json_parse(const char *text, const char *what, json_object **out, struct st_error *err)
{
	json_tokener *tok = json_tokener_new();
	if (!tok)
		return st_error_set(err, ENOMEM, "parse %s", what);
	json_object *o = json_tokener_parse_ex(tok, text, (int)strlen(text));
	enum json_tokener_error je = json_tokener_get_error(tok);
	if (!o && je == json_tokener_continue)
		je = json_tokener_error_parse_eof;
	size_t off = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!o || je != json_tokener_success) {
		if (o)
			json_object_put(o);
		return st_error_fail(err, EINVAL, "%s: invalid JSON at byte %zu: %s", what, off,
				     json_tokener_error_desc(je));
	}
	*out = o;
	return 0;
}

int st_json_load_at(int dirfd, const char *name, json_object **out, struct st_error *err)
{
	_cleanup_free_ char *text = NULL;
	int r = st_read_file_at(dirfd, name, &text, NULL, err);
	if (r < 0)
		return r;
	return st_json_parse(text, name, out, err);
}

int st_json_save_at(int dirfd, const char *name, json_object *o, struct st_error *err)
{
	size_t len;
	const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	return st_atomic_write_at(dirfd, name, s, len, 0600, err);
}

const char *st_json_str(json_object *o, const char *key)
{
	json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

int64_t st_json_int(json_object *o, const char *key)
{
	json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v))
		return 0;
	return json_object_get_int64(v);
}

const char *st_json_text(json_object *o, bool pretty)
{
	return json_object_to_json_string_ext(o, (pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
							  : JSON_C_TO_STRING_PLAIN) |
						     JSON_C_TO_STRING_NOSLASHESCAPE);
}
