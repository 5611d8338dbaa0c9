#!/bin/bash
# Dockerfile front end benchmark, in one run:
#  1. parsing a generated 20,000-instruction Dockerfile (every instruction
#     kind, flags, JSON and shell forms, continuations, comments): strata's
#     st_dockerfile_parse against the raw cost of reading the text (`wc -l`)
#     and against the npm dockerfile-ast parser (the one VS Code's Docker
#     support uses) when node can load it;
#  2. .dockerignore: 40 patterns (globs, **, exceptions) over 100,000
#     paths, strata against @balena/dockerignore (a port of Docker's Go
#     matcher) when node can load it;
#  3. word expansion: ${VAR:-default}/$VAR words, calls per second.
# Medians of RUNS (default 5) runs. Peers are looked up with NODE_PATH
# (e.g. NODE_PATH=/some/dir/node_modules after `npm install dockerfile-ast
# @balena/dockerignore` there); a missing peer prints a SKIP line.
#   BUILD=build-df bench/dockerfile.sh [RUNS]
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RUNS=${1:-5}
[ -f "$BUILD/libstrata.a" ] || { echo "bench/dockerfile: $BUILD/libstrata.a is not built" >&2; exit 1; }
T=$(mktemp -d "${STRATA_TEST_TMP:-/tmp}/strata-bench-df-XXXXXX")
trap 'rm -rf "$T"' EXIT

cat > "$T/bench.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "builder/dockerfile.h"
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
static char *slurp(const char *p, size_t *n) {
	FILE *f = fopen(p, "rb"); fseek(f, 0, SEEK_END); *n = (size_t)ftell(f); rewind(f);
	char *b = malloc(*n + 1); if (fread(b, 1, *n, f) != *n) exit(1); b[*n] = 0; fclose(f); return b;
}
int main(int argc, char **argv) {
	struct st_error err;
	size_t n;
	if (!strcmp(argv[1], "parse")) {
		char *t = slurp(argv[2], &n);
		struct st_dockerfile df;
		double a = now();
		if (st_dockerfile_parse(t, n, "Dockerfile", &df, &err) < 0) { fprintf(stderr, "%s\n", err.msg); return 1; }
		printf("%.1f %zu\n", now() - a, df.n);
		st_dockerfile_free(&df);
	} else if (!strcmp(argv[1], "ignore")) {
		char *pats = slurp(argv[2], &n), *paths = slurp(argv[3], &n);
		struct st_dockerignore di;
		if (st_dockerignore_parse(pats, strlen(pats), &di, &err) < 0) { fprintf(stderr, "%s\n", err.msg); return 1; }
		size_t hits = 0, total = 0;
		double a = now();
		for (char *l = strtok(paths, "\n"); l; l = strtok(NULL, "\n"), total++)
			hits += st_dockerignore_match(&di, l);
		printf("%.1f %zu/%zu\n", now() - a, hits, total);
	} else {
		struct st_kvlist v = {0};
		st_kvlist_add(&v, "HOME", "/root"); st_kvlist_add(&v, "VERSION", "1.2.3");
		double a = now();
		for (int i = 0; i < 200000; i++) {
			char *o;
			if (st_df_expand("${PREFIX:-/usr/local}/app-$VERSION/\"$HOME/x y\"", &v, '\\', &o, &err) < 0) return 1;
			free(o);
		}
		printf("%.1f 200000\n", now() - a);
	}
	return 0;
}
EOF
cc -O2 -std=gnu11 -D_GNU_SOURCE -Iinclude -Icore -o "$T/bench" "$T/bench.c" "$BUILD/libstrata.a" \
	$(pkg-config --libs libarchive json-c libcrypto mount libcurl devmapper libbtrfsutil zlib 2>/dev/null) -lpthread

# 20,000 instructions, about 1.3 MB
awk 'BEGIN {
	print "# syntax=docker/dockerfile:1"; print "ARG BASE=debian:12"
	for (s = 0; s < 400; s++) {
		printf "FROM --platform=$BUILDPLATFORM ${BASE} AS stage%d\n", s
		printf "ENV PATH=/opt/s%d/bin:$PATH LANG=C.UTF-8 MSG=\"hello world %d\"\n", s, s
		printf "LABEL org.example.stage=\"%d\" maintainer=\"dev@example.com\"\n", s
		printf "WORKDIR /src/stage%d\n", s
		printf "# install the toolchain\n"
		for (i = 0; i < 12; i++) {
			printf "RUN --mount=type=cache,target=/var/cache/apt apt-get update && \\\n"
			printf "    apt-get install -y --no-install-recommends pkg%d-%d && \\\n", s, i
			printf "    rm -rf /var/lib/apt/lists/*\n"
		}
		printf "COPY --from=stage%d --chown=1000:1000 --chmod=0755 /out/bin/ /usr/local/bin/\n", (s > 0 ? s - 1 : 0)
		printf "COPY [\"src dir/\", \"/app/src/\"]\n"
		printf "EXPOSE 80%02d/tcp\n", s % 100
		printf "HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD curl -f http://localhost/ || exit 1\n"
		printf "USER app:app\n"
		printf "VOLUME [\"/data\"]\n"
		printf "ONBUILD RUN echo trigger %d\n", s
		printf "ARG V%d=1\n", s
		printf "ENTRYPOINT [\"/usr/local/bin/app\", \"--stage\", \"%d\"]\n", s
		printf "CMD [\"--serve\"]\n\n"
	}
}' > "$T/Dockerfile"
# 100,000 paths of a source tree, 40 patterns
awk 'BEGIN {
	split("src lib test docs build node_modules .git vendor assets cmd", d, " ")
	split("main.go util.c README.md app.js index.ts data.json notes.txt Makefile img.png x.log", f, " ")
	for (i = 0; i < 100000; i++) {
		p = d[i % 10 + 1]; depth = i % 5
		for (k = 0; k < depth; k++) p = p "/" d[(i * 7 + k * 3) % 10 + 1] k
		print p "/" f[(i * 13) % 10 + 1]
	}
}' > "$T/paths"
cat > "$T/dockerignore" <<'EOF'
# vcs and deps
.git
**/node_modules
vendor/
*.log
**/*.log
build/**
!build/keep/**
docs/**/*.md
!docs/README.md
**/test*/**/*.json
assets/**/*.png
!assets/logo.png
*.tmp
**/.DS_Store
**/__pycache__
**/*.pyc
coverage
dist
.env
.env.*
!.env.example
**/*.swp
*.bak
**/tmp
src/**/generated/**
cmd/*/testdata
lib/**/*.o
lib/**/*.a
**/Makefile.in
**/[Tt]humbs.db
**/*~
test/fixtures/large/**
**/secrets/**
!**/secrets/README
notes.txt
**/notes?.txt
docs/build
src/**/*.map
**/.cache
EOF

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
runs() { for _ in $(seq "$RUNS"); do "$@"; done; }

size=$(wc -c < "$T/Dockerfile")
ninstr=$("$T/bench" parse "$T/Dockerfile" | awk '{print $2}')
echo "Dockerfile: $ninstr instructions, $size bytes; median of $RUNS runs"
t=$(runs "$T/bench" parse "$T/Dockerfile" | awk '{print $1}' | median)
echo "  strata st_dockerfile_parse      ${t} ms"
t=$(for _ in $(seq "$RUNS"); do a=$(date +%s%N); wc -l < "$T/Dockerfile" > /dev/null; b=$(date +%s%N); echo $(((b - a) / 1000000)); done | median)
echo "  baseline wc -l (process incl.)  ${t} ms"
if node -e "require('dockerfile-ast')" 2>/dev/null; then
	t=$(for _ in $(seq "$RUNS"); do node -e "
		const {DockerfileParser} = require('dockerfile-ast');
		const t = require('fs').readFileSync('$T/Dockerfile', 'utf8');
		const a = process.hrtime.bigint(); const d = DockerfileParser.parse(t);
		const n = d.getInstructions().length; const b = process.hrtime.bigint();
		console.log(Number(b - a) / 1e6)"; done | median)
	echo "  peer dockerfile-ast (node)      ${t} ms"
else
	echo "SKIP peer dockerfile-ast: node cannot load it (set NODE_PATH)"
fi

echo ".dockerignore: 40 patterns, 100,000 paths; median of $RUNS runs"
res=$("$T/bench" ignore "$T/dockerignore" "$T/paths")
t=$(runs "$T/bench" ignore "$T/dockerignore" "$T/paths" | awk '{print $1}' | median)
echo "  strata st_dockerignore_match    ${t} ms (ignored ${res#* })"
if node -e "require('@balena/dockerignore')" 2>/dev/null; then
	t=$(for _ in $(seq "$RUNS"); do node -e "
		const ignore = require('@balena/dockerignore'); const fs = require('fs');
		const ig = ignore().add(fs.readFileSync('$T/dockerignore', 'utf8').split('\n'));
		const paths = fs.readFileSync('$T/paths', 'utf8').trim().split('\n');
		const a = process.hrtime.bigint(); let n = 0; for (const p of paths) n += ig.ignores(p);
		const b = process.hrtime.bigint(); console.log(Number(b - a) / 1e6, n)" | awk '{print $1}'; done | median)
	n=$(node -e "
		const ignore = require('@balena/dockerignore'); const fs = require('fs');
		const ig = ignore().add(fs.readFileSync('$T/dockerignore', 'utf8').split('\n'));
		let n = 0; for (const p of fs.readFileSync('$T/paths', 'utf8').trim().split('\n')) n += ig.ignores(p);
		console.log(n)")
	echo "  peer @balena/dockerignore       ${t} ms (ignored $n)"
else
	echo "SKIP peer @balena/dockerignore: node cannot load it (set NODE_PATH)"
fi

t=$(runs "$T/bench" expand | awk '{print $1}' | median)
echo "word expansion: 200,000 st_df_expand calls in ${t} ms (median of $RUNS)"
