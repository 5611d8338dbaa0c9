/* The registry client's pieces that need no network: references parsed as
 * docker parses them, WWW-Authenticate challenges, the credentials file
 * (docker's format, mode 0600, other entries kept), platforms and the
 * choice of an index entry, manifests built and the descriptors read back,
 * the bounded pipe between threads, and deterministic compression. */
#include <archive.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "archive/archive.h"
#include "registry/registry_int.h"
#include "testlib.h"

/* ------------------------------------------------------------ references */

struct ref_case {
	const char *in, *domain, *repo, *tag, *digest, *familiar;
};

START_TEST(references_parse_as_docker_parses_them)
{
	static const char d64[] = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	static const struct ref_case cases[] = {
		{"busybox", "docker.io", "library/busybox", "latest", "", "busybox"},
		{"busybox:1.36", "docker.io", "library/busybox", "1.36", "", "busybox"},
		{"me/app", "docker.io", "me/app", "latest", "", "me/app"},
		{"docker.io/library/alpine:3", "docker.io", "library/alpine", "3", "", "alpine"},
		{"index.docker.io/me/app:x", "docker.io", "me/app", "x", "", "me/app"},
		{"localhost/app", "localhost", "app", "latest", "", "localhost/app"},
		{"localhost:5000/a/b/c:v1.0-rc_1", "localhost:5000", "a/b/c", "v1.0-rc_1", "", "localhost:5000/a/b/c"},
		{"127.0.0.1:5000/app:1", "127.0.0.1:5000", "app", "1", "", "127.0.0.1:5000/app"},
		{"registry.example.com/team/app", "registry.example.com", "team/app", "latest", "",
		 "registry.example.com/team/app"},
		{"Example/app", "Example", "app", "latest", "", "Example/app"},
		{"[::1]:5000/app", "[::1]:5000", "app", "latest", "", "[::1]:5000/app"},
		{"a__b/c.d/e-f---g", "docker.io", "a__b/c.d/e-f---g", "latest", "", "a__b/c.d/e-f---g"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct reg_ref r;
		struct st_error err = {0};
		ck_assert_msg(reg_ref_parse(cases[i].in, &r, &err) == 0, "%s: %s", cases[i].in, err.msg);
		ck_assert_str_eq(r.domain, cases[i].domain);
		ck_assert_str_eq(r.repo, cases[i].repo);
		ck_assert_str_eq(r.tag, cases[i].tag);
		ck_assert_str_eq(r.digest, cases[i].digest);
		char fam[300];
		reg_ref_familiar_name(&r, fam, sizeof(fam));
		ck_assert_str_eq(fam, cases[i].familiar);
	}
	char s[200];
	snprintf(s, sizeof(s), "127.0.0.1:5000/app@%s", d64);
	struct reg_ref r;
	struct st_error err = {0};
	ck_assert_int_eq(reg_ref_parse(s, &r, &err), 0);
	ck_assert_str_eq(r.digest, d64);
	ck_assert_str_eq(r.tag, ""); /* a digest alone: no implied latest */
	char canon[400];
	reg_ref_canonical(&r, canon, sizeof(canon));
	ck_assert_str_eq(canon, s);
	snprintf(s, sizeof(s), "app:v2@%s", d64);
	ck_assert_int_eq(reg_ref_parse(s, &r, &err), 0);
	ck_assert_str_eq(r.tag, "v2");
	ck_assert_str_eq(r.digest, d64);
	reg_ref_canonical(&r, canon, sizeof(canon));
	snprintf(s, sizeof(s), "docker.io/library/app:v2@%s", d64);
	ck_assert_str_eq(canon, s);
}
END_TEST

START_TEST(bad_references_are_refused)
{
	static const char *const bad[] = {
		"",
		"UPPER",                    /* no domain: capitals are not a name */
		"app:",                     /* empty tag */
		"app:-x",                   /* tag starts with a separator */
		"app/",                     /* empty component */
		"a//b",
		"-app",
		"app-",
		"a..b",
		"host:5000/",
		"app@sha256:abc",           /* short digest */
		"app@md5:0123456789abcdef0123456789abcdef",
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", /* an image id */
		"bad_host!/app",
		"ho-/app",                  /* a component ending in a separator */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct reg_ref r;
		struct st_error err = {0};
		ck_assert_msg(reg_ref_parse(bad[i], &r, &err) == -EINVAL, "\"%s\" was accepted", bad[i]);
		ck_assert_msg(err.msg[0], "\"%s\": no message", bad[i]);
	}
	/* 255 characters is the limit of a name */
	char long_name[400];
	memset(long_name, 'a', 300);
	long_name[300] = '\0';
	struct reg_ref r;
	struct st_error err = {0};
	ck_assert_int_eq(reg_ref_parse(long_name, &r, &err), -EINVAL);
}
END_TEST

START_TEST(hosts_normalise_and_loopback_is_recognised)
{
	char out[256];
	struct st_error err = {0};
	ck_assert_int_eq(reg_host_normalize("https://index.docker.io/v1/", out, sizeof(out), &err), 0);
	ck_assert_str_eq(out, "docker.io");
	ck_assert_int_eq(reg_host_normalize("registry-1.docker.io", out, sizeof(out), &err), 0);
	ck_assert_str_eq(out, "docker.io");
	ck_assert_int_eq(reg_host_normalize("http://127.0.0.1:5000/", out, sizeof(out), &err), 0);
	ck_assert_str_eq(out, "127.0.0.1:5000");
	ck_assert_int_eq(reg_host_normalize("", out, sizeof(out), &err), 0);
	ck_assert_str_eq(out, "docker.io");
	ck_assert_int_eq(reg_host_normalize("bad host", out, sizeof(out), &err), -EINVAL);
	ck_assert_str_eq(reg_api_host("docker.io"), "registry-1.docker.io");
	ck_assert_str_eq(reg_api_host("quay.io"), "quay.io");
	ck_assert(reg_host_is_loopback("localhost"));
	ck_assert(reg_host_is_loopback("localhost:5000"));
	ck_assert(reg_host_is_loopback("127.0.0.1:5000"));
	ck_assert(reg_host_is_loopback("127.1.2.3"));
	ck_assert(reg_host_is_loopback("[::1]:5000"));
	ck_assert(!reg_host_is_loopback("128.0.0.1:5000"));
	ck_assert(!reg_host_is_loopback("127.0.0.1.example.com"));
	ck_assert(!reg_host_is_loopback("localhost.example.com"));
	ck_assert(!reg_host_is_loopback("docker.io"));
}
END_TEST

/* ----------------------------------------------------------- challenges */

START_TEST(challenges_prefer_bearer_and_read_quoted_params)
{
	struct reg_challenge c;
	ck_assert_int_eq(reg_challenge_parse("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
					     "scope=\"repository:library/busybox:pull\"",
					     &c),
			 0);
	ck_assert_str_eq(c.scheme, "bearer");
	ck_assert_str_eq(c.realm, "https://auth.docker.io/token");
	ck_assert_str_eq(c.service, "registry.docker.io");
	ck_assert_str_eq(c.scope, "repository:library/busybox:pull");
	reg_challenge_free(&c);

	/* several challenges, Basic first; quoted commas and escapes */
	ck_assert_int_eq(reg_challenge_parse("Basic realm=\"a, b\", bearer Realm=\"http://h/t?x=1\", service=s\\\"v", &c), 0);
	ck_assert_str_eq(c.scheme, "bearer");
	ck_assert_str_eq(c.realm, "http://h/t?x=1");
	ck_assert_ptr_nonnull(c.service);
	reg_challenge_free(&c);

	ck_assert_int_eq(reg_challenge_parse("Basic realm=\"strata-test\"", &c), 0);
	ck_assert_str_eq(c.scheme, "basic");
	ck_assert_ptr_null(c.realm);
	reg_challenge_free(&c);

	ck_assert_int_eq(reg_challenge_parse("Bearer service=\"no realm\"", &c), -EINVAL);
	reg_challenge_free(&c);
	ck_assert_int_eq(reg_challenge_parse("Negotiate", &c), -ENOENT);
	ck_assert_int_eq(reg_challenge_parse(NULL, &c), -ENOENT);
}
END_TEST

/* ---------------------------------------------------------- credentials */

static char *tmp;

static void setup(void)
{
	tmp = st_test_mkdtemp("registry");
	ck_assert_ptr_nonnull(tmp);
}

static void teardown(void)
{
	st_test_rmtree(tmp);
	free(tmp);
}

START_TEST(credentials_file_is_docker_format_0600_and_keeps_other_entries)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/cfg/strata/auth.json", tmp);
	/* another tool's entry and key are kept */
	st_test_write(tmp, "cfg/strata/auth.json",
		      "{\"auths\": {\"other.io\": {\"auth\": \"eDp5\"}}, \"detachKeys\": \"ctrl-e,e\"}");
	struct st_error err = {0};
	ST_OK(reg_creds_set(path, "127.0.0.1:5000", "alice", "p:a ss", &err), &err);
	ST_OK(reg_creds_set(path, "docker.io", "bob", "hub", &err), &err);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	_cleanup_json_ json_object *o = NULL;
	char *text = st_test_read(tmp, "cfg/strata/auth.json");
	ck_assert_ptr_nonnull(text);
	ST_OK(st_json_parse(text, "auth", &o, &err), &err);
	free(text);
	json_object *auths, *e;
	ck_assert(json_object_object_get_ex(o, "auths", &auths));
	ck_assert(json_object_object_get_ex(auths, "127.0.0.1:5000", &e));
	ck_assert_str_eq(st_json_str(e, "auth"), "YWxpY2U6cDphIHNz"); /* base64("alice:p:a ss") */
	ck_assert(json_object_object_get_ex(auths, "https://index.docker.io/v1/", &e)); /* docker's key for the hub */
	ck_assert(json_object_object_get_ex(auths, "other.io", &e));
	ck_assert_str_eq(st_json_str(o, "detachKeys"), "ctrl-e,e");

	char *u, *p;
	ST_OK(reg_creds_get(path, "127.0.0.1:5000", &u, &p, &err), &err);
	ck_assert_str_eq(u, "alice");
	ck_assert_str_eq(p, "p:a ss"); /* the first colon splits */
	free(u);
	free(p);
	ST_OK(reg_creds_remove(path, "127.0.0.1:5000", &err), &err);
	setenv("HOME", tmp, 1); /* no docker config there either */
	unsetenv("DOCKER_CONFIG");
	ck_assert_int_eq(reg_creds_get(path, "127.0.0.1:5000", &u, &p, &err), -ENOENT);
	ck_assert_int_eq(reg_creds_remove(path, "127.0.0.1:5000", &err), -ENOENT);
	ST_OK(reg_creds_get(path, "docker.io", &u, &p, &err), &err);
	ck_assert_str_eq(u, "bob");
	free(u);
	free(p);
}
END_TEST

START_TEST(credentials_fall_back_to_docker_config_and_refuse_garbage)
{
	char path[4096], dc[4096];
	snprintf(path, sizeof(path), "%s/none/auth.json", tmp);
	snprintf(dc, sizeof(dc), "%s/docker", tmp);
	st_test_write(tmp, "docker/config.json", "{\"auths\": {\"reg.example\": {\"auth\": \"Y2Fyb2w6eHl6\"}}}");
	setenv("DOCKER_CONFIG", dc, 1);
	char *u = NULL, *p = NULL;
	struct st_error err = {0};
	ST_OK(reg_creds_get(path, "reg.example", &u, &p, &err), &err);
	ck_assert_str_eq(u, "carol");
	ck_assert_str_eq(p, "xyz");
	free(u);
	free(p);
	unsetenv("DOCKER_CONFIG");
	/* not base64 of user:password in strata's own file: said so */
	snprintf(path, sizeof(path), "%s/bad.json", tmp);
	st_test_write(tmp, "bad.json", "{\"auths\": {\"h\": {\"auth\": \"bm9jb2xvbg==\"}}}");
	ck_assert_int_eq(reg_creds_get(path, "h", &u, &p, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "not base64 of user:password"));
	st_test_write(tmp, "bad.json", "[1, 2");
	ck_assert_int_lt(reg_creds_get(path, "h", &u, &p, &err), 0);
	ck_assert_int_lt(reg_creds_set(path, "h", "", "x", &err), 0);
	ck_assert_int_lt(reg_creds_set(path, "h", "a:b", "x", &err), 0);
}
END_TEST

/* ------------------------------------------------------------ platforms */

START_TEST(platforms_parse_and_pick_the_index_entry)
{
	struct st_platform p;
	struct st_error err = {0};
	ck_assert_int_eq(st_platform_parse("linux/amd64", &p, &err), 0);
	ck_assert_str_eq(p.os, "linux");
	ck_assert_str_eq(p.arch, "amd64");
	ck_assert_str_eq(p.variant, "");
	ck_assert_int_eq(st_platform_parse("linux/arm64/v8", &p, &err), 0);
	ck_assert_str_eq(p.variant, ""); /* arm64's default */
	ck_assert_int_eq(st_platform_parse("linux/x86_64", &p, &err), 0);
	ck_assert_str_eq(p.arch, "amd64");
	ck_assert_int_eq(st_platform_parse("linux", &p, &err), -EINVAL);
	ck_assert_int_eq(st_platform_parse("linux/arm/v7/x", &p, &err), -EINVAL);
	ck_assert_int_eq(st_platform_parse("linux//v7", &p, &err), -EINVAL);

	_cleanup_json_ json_object *idx = NULL;
	ST_OK(st_json_parse("[{\"digest\":\"a\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v6\"}},"
			    "{\"digest\":\"b\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v7\"}},"
			    "{\"digest\":\"c\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
			    "{\"digest\":\"d\",\"platform\":{\"os\":\"windows\",\"architecture\":\"amd64\"}},"
			    "{\"digest\":\"e\",\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
			    "{\"digest\":\"f\"}]",
			    "index", &idx, &err),
	      &err);
	struct {
		const char *plat, *want;
	} cases[] = {
		{"linux/arm/v7", "b"}, {"linux/arm/v6", "a"}, {"linux/arm", "a"}, {"linux/arm64", "c"},
		{"linux/amd64", "e"},  {"windows/amd64", "d"}, {"linux/s390x", NULL}, {"linux/arm/v5", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(st_platform_parse(cases[i].plat, &p, &err), 0);
		json_object *m = st_index_pick(idx, &p);
		if (!cases[i].want)
			ck_assert_msg(m == NULL, "%s picked %s", cases[i].plat, m ? st_json_str(m, "digest") : "");
		else
			ck_assert_msg(m && strcmp(st_json_str(m, "digest"), cases[i].want) == 0, "%s picked %s, want %s",
				      cases[i].plat, m ? st_json_str(m, "digest") : "nothing", cases[i].want);
	}
	/* a lone entry without a platform is the image */
	_cleanup_json_ json_object *one = NULL;
	ST_OK(st_json_parse("[{\"digest\":\"z\"}]", "index", &one, &err), &err);
	ck_assert_ptr_nonnull(st_index_pick(one, &p));
}
END_TEST

/* ------------------------------------------------------------ manifests */

START_TEST(manifests_build_with_the_right_media_types)
{
	struct st_desc cfg = {.size = 123}, layers[2];
	struct st_error err = {0};
	snprintf(cfg.digest, sizeof(cfg.digest), "sha256:%064d", 1);
	for (int i = 0; i < 2; i++) {
		snprintf(layers[i].digest, sizeof(layers[i].digest), "sha256:%064d", i + 2);
		snprintf(layers[i].media_type, sizeof(layers[i].media_type), "%s", st_mt_layer(false, ST_COMPRESS_GZIP));
		layers[i].size = 1000 + i;
	}
	char *text;
	size_t len;
	ST_OK(reg_manifest_build(false, &cfg, layers, 2, &text, &len, &err), &err);
	ck_assert_uint_eq(strlen(text), len);
	_cleanup_json_ json_object *m = NULL;
	ST_OK(st_json_parse(text, "manifest", &m, &err), &err);
	free(text);
	ck_assert_int_eq(st_json_int(m, "schemaVersion"), 2);
	ck_assert_str_eq(st_json_str(m, "mediaType"), ST_MT_DOCKER_MANIFEST);
	json_object *c, *ls;
	ck_assert(json_object_object_get_ex(m, "config", &c));
	struct st_desc back;
	ST_OK(st_desc_parse(c, &back, "config", &err), &err);
	ck_assert_str_eq(back.media_type, ST_MT_DOCKER_CONFIG);
	ck_assert_str_eq(back.digest, cfg.digest);
	ck_assert_int_eq(back.size, 123);
	ck_assert(json_object_object_get_ex(m, "layers", &ls));
	ck_assert_uint_eq(json_object_array_length(ls), 2);
	ST_OK(st_desc_parse(json_object_array_get_idx(ls, 1), &back, "layer", &err), &err);
	ck_assert_str_eq(back.digest, layers[1].digest);
	ck_assert_int_eq(back.size, 1001);
	ck_assert(st_mt_is_layer(back.media_type));

	ST_OK(reg_manifest_build(true, &cfg, layers, 0, &text, &len, &err), &err);
	ck_assert_ptr_nonnull(strstr(text, ST_MT_OCI_MANIFEST));
	ck_assert_ptr_nonnull(strstr(text, ST_MT_OCI_CONFIG));
	ck_assert_ptr_nonnull(strstr(text, "\"layers\":[]"));
	free(text);

	ck_assert_str_eq(st_mt_layer(true, ST_COMPRESS_ZSTD), "application/vnd.oci.image.layer.v1.tar+zstd");
	ck_assert_ptr_null(st_mt_layer(false, ST_COMPRESS_ZSTD));
	ck_assert_int_eq(st_mt_layer_compression(ST_MT_DOCKER_LAYER_GZIP), ST_COMPRESS_GZIP);
	ck_assert_int_eq(st_mt_layer_compression(ST_MT_OCI_LAYER), ST_COMPRESS_NONE);
	ck_assert(!st_mt_is_layer("application/vnd.cncf.helm.chart.content.v1.tar+gzip"));

	/* descriptors that lie are refused */
	_cleanup_json_ json_object *d = NULL;
	ST_OK(st_json_parse("{\"mediaType\":\"x\",\"digest\":\"sha512:00\",\"size\":1}", "d", &d, &err), &err);
	ck_assert_int_eq(st_desc_parse(d, &back, "d", &err), -EINVAL);
	json_object_put(d);
	ST_OK(st_json_parse("{\"mediaType\":\"x\",\"digest\":\"sha256:0000000000000000000000000000000000000000000000000000000000000000\",\"size\":-1}",
			    "d", &d, &err),
	      &err);
	ck_assert_int_eq(st_desc_parse(d, &back, "d", &err), -EINVAL);
}
END_TEST

START_TEST(config_diff_ids_are_checked)
{
	static const char good[] = "{\"os\":\"linux\",\"architecture\":\"arm64\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":["
				   "\"sha256:0000000000000000000000000000000000000000000000000000000000000001\"]}}";
	char **ids;
	size_t n;
	struct st_platform p;
	struct st_error err = {0};
	ST_OK(st_config_diff_ids(good, strlen(good), &ids, &n, &p, &err), &err);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(p.arch, "arm64");
	st_strv_free(ids, n);
	static const char bad[] = "{\"rootfs\":{\"diff_ids\":[\"sha256:short\"]}}";
	ck_assert_int_eq(st_config_diff_ids(bad, strlen(bad), &ids, &n, NULL, &err), -EINVAL);
	static const char none[] = "{\"rootfs\":{}}";
	ck_assert_int_eq(st_config_diff_ids(none, strlen(none), &ids, &n, NULL, &err), -EINVAL);
	/* a NUL inside: not text */
	ck_assert_int_eq(st_config_diff_ids(good, sizeof(good), &ids, &n, NULL, &err), -EINVAL);
}
END_TEST

/* ---------------------------------------------------------------- pipes */

struct producer {
	struct st_bytepipe *p;
	size_t total;
	int fail_at_end;
	int write_result;
};

static void *produce(void *arg)
{
	struct producer *pr = arg;
	unsigned char buf[777];
	size_t sent = 0;
	int r = 0;
	while (sent < pr->total && r == 0) {
		size_t n = pr->total - sent < sizeof(buf) ? pr->total - sent : sizeof(buf);
		for (size_t i = 0; i < n; i++)
			buf[i] = (unsigned char)((sent + i) * 7);
		r = st_bytepipe_write(pr->p, buf, n);
		sent += n;
	}
	pr->write_result = r;
	st_bytepipe_close(pr->p, pr->fail_at_end, pr->fail_at_end ? "the network went away" : NULL);
	return NULL;
}

START_TEST(pipe_carries_every_byte_in_order_through_a_small_buffer)
{
	struct st_bytepipe p;
	ck_assert_int_eq(st_bytepipe_init(&p, 100), 0);
	struct producer pr = {.p = &p, .total = 1000000};
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, produce, &pr), 0);
	size_t got = 0;
	bool ok = true;
	unsigned char buf[333];
	ssize_t n;
	while ((n = st_bytepipe_read(&p, buf, sizeof(buf), NULL)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			ok &= buf[i] == (unsigned char)((got + (size_t)i) * 7);
		got += (size_t)n;
	}
	pthread_join(t, NULL);
	ck_assert_int_eq(n, 0);
	ck_assert(ok);
	ck_assert_uint_eq(got, pr.total);
	st_bytepipe_destroy(&p);
}
END_TEST

START_TEST(pipe_hands_the_writers_error_after_its_data_and_cancel_stops_it)
{
	struct st_bytepipe p;
	ck_assert_int_eq(st_bytepipe_init(&p, 4096), 0);
	struct producer pr = {.p = &p, .total = 1000, .fail_at_end = -ECONNRESET};
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, produce, &pr), 0);
	pthread_join(t, NULL);
	char buf[2000];
	struct st_error err = {0};
	ck_assert_int_eq(st_bytepipe_read(&p, buf, sizeof(buf), &err), 1000);
	ck_assert_int_eq(st_bytepipe_read(&p, buf, sizeof(buf), &err), -ECONNRESET);
	ck_assert_str_eq(err.msg, "the network went away");
	st_bytepipe_destroy(&p);

	/* the reader gives up while the writer is blocked on a full pipe */
	ck_assert_int_eq(st_bytepipe_init(&p, 10), 0);
	struct producer big = {.p = &p, .total = 1 << 20};
	ck_assert_int_eq(pthread_create(&t, NULL, produce, &big), 0);
	ck_assert_int_eq(st_bytepipe_read(&p, buf, 5, NULL), 5);
	st_bytepipe_cancel(&p);
	pthread_join(t, NULL);
	ck_assert_int_eq(big.write_result, -ECANCELED);
	st_bytepipe_destroy(&p);
}
END_TEST

/* ---------------------------------------------------------- compression */

struct sink {
	char *data;
	size_t len;
};

static int sink_write(void *ctx, const void *buf, size_t len)
{
	struct sink *s = ctx;
	char *nd = realloc(s->data, s->len + len);
	if (!nd)
		return -ENOMEM;
	memcpy(nd + s->len, buf, len);
	s->data = nd;
	s->len += len;
	return 0;
}

static void compress_buf(enum st_compression c, const char *in, size_t len, struct sink *out)
{
	memset(out, 0, sizeof(*out));
	struct st_writer w = {.write = sink_write, .ctx = out};
	struct st_compressor *z;
	struct st_error err = {0};
	ST_OK(st_compressor_new(c, &w, &z, &err), &err);
	struct st_writer *zw = st_compressor_writer(z);
	for (size_t off = 0; off < len; off += 1000)
		ck_assert_int_eq(zw->write(zw->ctx, in + off, len - off < 1000 ? len - off : 1000), 0);
	ST_OK(st_compressor_finish(z, &err), &err);
	st_compressor_free(z);
}

static void decompress_check(const struct sink *s, const char *want, size_t len, const char *magic, size_t mlen)
{
	ck_assert(s->len > mlen && memcmp(s->data, magic, mlen) == 0);
	struct archive *a = archive_read_new();
	archive_read_support_filter_all(a);
	archive_read_support_format_raw(a);
	ck_assert_int_eq(archive_read_open_memory(a, s->data, s->len), ARCHIVE_OK);
	struct archive_entry *e;
	ck_assert_int_eq(archive_read_next_header(a, &e), ARCHIVE_OK);
	char *back = malloc(len + 16);
	size_t got = 0;
	la_ssize_t n;
	while ((n = archive_read_data(a, back + got, len + 16 - got)) > 0)
		got += (size_t)n;
	ck_assert_uint_eq(got, len);
	ck_assert(memcmp(back, want, len) == 0);
	free(back);
	archive_read_free(a);
}

START_TEST(compression_is_deterministic_and_decompresses_to_the_input)
{
	size_t len = 300000;
	char *in = malloc(len);
	for (size_t i = 0; i < len; i++)
		in[i] = (char)(i % 251 < 100 ? 'a' : (i * 2654435761u) >> 13);
	struct sink g1, g2, z1;
	compress_buf(ST_COMPRESS_GZIP, in, len, &g1);
	sleep(1); /* a gzip header with the time in it would now differ */
	compress_buf(ST_COMPRESS_GZIP, in, len, &g2);
	ck_assert_uint_eq(g1.len, g2.len);
	ck_assert(memcmp(g1.data, g2.data, g1.len) == 0);
	ck_assert(g1.len < len);
	decompress_check(&g1, in, len, "\x1f\x8b", 2);
	compress_buf(ST_COMPRESS_ZSTD, in, len, &z1);
	decompress_check(&z1, in, len, "\x28\xb5\x2f\xfd", 4);
	free(g1.data);
	free(g2.data);
	free(z1.data);
	free(in);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("registry");
	TCase *tc = tcase_create("offline");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, references_parse_as_docker_parses_them);
	tcase_add_test(tc, bad_references_are_refused);
	tcase_add_test(tc, hosts_normalise_and_loopback_is_recognised);
	tcase_add_test(tc, challenges_prefer_bearer_and_read_quoted_params);
	tcase_add_test(tc, credentials_file_is_docker_format_0600_and_keeps_other_entries);
	tcase_add_test(tc, credentials_fall_back_to_docker_config_and_refuse_garbage);
	tcase_add_test(tc, platforms_parse_and_pick_the_index_entry);
	tcase_add_test(tc, manifests_build_with_the_right_media_types);
	tcase_add_test(tc, config_diff_ids_are_checked);
	tcase_add_test(tc, pipe_carries_every_byte_in_order_through_a_small_buffer);
	tcase_add_test(tc, pipe_hands_the_writers_error_after_its_data_and_cancel_stops_it);
	tcase_add_test(tc, compression_is_deterministic_and_decompresses_to_the_input);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return st_test_main(suite()); }
