#!/usr/bin/env python3
"""The layering of core/ (docs/ARCHITECTURE.md), checked.

  archcheck.py [--root DIR] [--build DIR] [--max-lines N]

Prints one line per check, "PASS name" or "FAIL name: why" (and the
offenders), and exits 1 when a check failed. The checks:

  includes     a file includes only its own folder's headers, the interface
               header (NAME/NAME.h) of a folder below its own, and strata.h;
               never a header of a folder above or beside it, nor another
               folder's private headers
  include-cycles   no cycle between the folders' include graphs, and none
               between files
  calls        (with --build: the objects' symbols, nm) a folder's objects
               call only their own folder and the folders below it
  call-cycles  no cycle of calls between core/ files
  file-size    no source file of core/, drivers/, volume-drivers/, cli/ or
               servers/ over --max-lines (800) lines; tests/ are exempt
"""
import argparse
import collections
import os
import re
import subprocess
import sys

# Each core/ folder and the folders directly below it; "below" is the
# transitive closure. Outside core/: drivers/ plug into the store's driver
# interface, volume-drivers/ into the volume store; cli/ and servers/ stand
# on all of core/.
LAYERS = {
    "base": [],
    "format": ["base"],
    "archive": ["base"],
    "store": ["archive"],
    "image": ["store"],
    "volume": ["store"],
    "container": ["image", "volume"],
    "registry": ["image"],
    "builder": ["container"],
    "bench": ["store"],
    "system": ["builder"],
}
OUTSIDE = {
    "drivers": ["store"],
    "volume-drivers": ["volume"],
    "cli": list(LAYERS),
    "servers": list(LAYERS),
}
SOURCE_DIRS = ["core", "drivers", "volume-drivers", "cli", "servers"]


def closure(name, graph):
    seen, todo = set(), list(graph[name])
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(LAYERS.get(n, []))
    return seen


def sccs(graph):
    """Strongly connected components with more than one node (or a self loop)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                out.append(sorted(comp))

    sys.setrecursionlimit(100000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def sources(root):
    for top in SOURCE_DIRS:
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(dirpath, f), root)


def owner(path):
    """(group, folder): ("core", "store") for core/store/x.c, ("drivers", "overlay")..."""
    parts = path.split("/")
    if parts[0] == "core" and len(parts) > 2:
        return "core", parts[1]
    return parts[0], parts[1] if len(parts) > 2 else ""


def allowed_core(path):
    group, folder = owner(path)
    if group == "core":
        if folder not in LAYERS:
            return None
        return {folder} | closure(folder, LAYERS)
    below = set()
    for n in OUTSIDE.get(group, []):
        below |= {n} | closure(n, LAYERS)
    return below


def check_includes(root, fail):
    graph = collections.defaultdict(set)      # folder -> folders it includes
    files = collections.defaultdict(set)      # file -> files it includes
    bad = []
    for path in sources(root):
        group, folder = owner(path)
        allowed = allowed_core(path)
        if group == "core" and allowed is None:
            bad.append(f"{path}: core/{folder}/ is no known layer (add it to LAYERS)")
            continue
        with open(os.path.join(root, path), errors="replace") as fh:
            text = fh.read()
        for m in re.finditer(r'^\s*#\s*include\s+"([^"]+)"', text, flags=re.M):
            inc = m.group(1)
            if inc == "strata.h":
                files[path].add("include/strata.h")
                continue
            local = os.path.normpath(os.path.join(os.path.dirname(path), inc))
            if "/" not in inc or inc.startswith("."):
                if os.path.exists(os.path.join(root, local)):
                    files[path].add(local)
                    if group == "core" and owner(local) != (group, folder):
                        bad.append(f"{path}: includes \"{inc}\" by a relative path into another folder")
                elif group == "core" or not os.path.exists(os.path.join(root, group, inc)):
                    bad.append(f"{path}: includes \"{inc}\", which is not in its folder")
                continue
            target = inc.split("/")
            if len(target) != 2 or not os.path.exists(os.path.join(root, "core", inc)):
                bad.append(f"{path}: includes \"{inc}\", which is no core/ header")
                continue
            tfolder, tfile = target
            files[path].add("core/" + inc)
            if group == "core" and tfolder == folder:
                continue
            if group == "core":
                graph[folder].add(tfolder)
            if tfile != tfolder + ".h":
                bad.append(f"{path}: includes \"{inc}\", a private header of core/{tfolder}/ "
                           f"(its interface is {tfolder}/{tfolder}.h)")
                continue
            if tfolder not in allowed:
                how = "above" if group == "core" and folder in closure(tfolder, LAYERS) else "beside"
                where = f"core/{folder}/" if group == "core" else f"{group}/"
                bad.append(f"{path}: includes \"{inc}\": core/{tfolder}/ is {how} {where}")
    fail("includes", bad)
    cyc = [" -> ".join(c) for c in sccs({k: v for k, v in graph.items()})]
    cyc += ["files " + ", ".join(c) for c in sccs(files)]
    fail("include-cycles", cyc)


def nm_symbols(objs):
    """{object path: (defined, undefined)} from one nm run over all of them."""
    out = subprocess.run(["nm", "-A"] + objs, capture_output=True, text=True).stdout
    syms = {o: (set(), set()) for o in objs}
    for line in out.splitlines():
        obj, _, rest = line.partition(":")
        p = rest.split()
        if obj not in syms:
            continue
        if len(p) == 3 and p[1] in "TDBRCVW":
            syms[obj][0].add(p[2])
        elif len(p) == 2 and p[0] == "U":
            syms[obj][1].add(p[1])
    return syms


def check_calls(root, build, fail):
    objs = {}
    for dirpath, _, names in os.walk(build):
        for n in names:
            if n.endswith(".o"):
                rel = os.path.relpath(os.path.join(dirpath, n), build)[:-2]
                # objects of sources that are gone (a stale build dir) do not count
                if rel.split("/")[0] in SOURCE_DIRS and os.path.exists(os.path.join(root, rel + ".c")):
                    objs[rel] = os.path.join(dirpath, n)
    if not any(r.startswith("core/") for r in objs):
        fail("calls", [f"no core/ objects under {build} (build first)"])
        return
    defs, undefs = {}, {}
    syms = nm_symbols(sorted(objs.values()))
    for rel, obj in objs.items():
        d, u = syms[obj]
        undefs[rel] = u
        for s in d:
            defs.setdefault(s, rel)
    bad, graph = [], collections.defaultdict(set)
    for rel, u in sorted(undefs.items()):
        allowed = allowed_core(rel)
        group, folder = owner(rel)
        for s in sorted(u):
            t = defs.get(s)
            if not t or t == rel or not t.startswith("core/"):
                continue
            tfolder = owner(t)[1]
            if group == "core":
                graph[rel].add(t)
            if allowed is None or (tfolder not in allowed and not (group == "core" and tfolder == folder)):
                bad.append(f"{rel} calls {s} of {t}")
    fail("calls", bad)
    fail("call-cycles", [", ".join(c) for c in sccs(graph)])


def check_sizes(root, max_lines, fail):
    bad = []
    for path in sources(root):
        with open(os.path.join(root, path), errors="replace") as fh:
            n = sum(1 for _ in fh)
        if n > max_lines:
            bad.append(f"{path}: {n} lines")
    fail("file-size", bad)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=os.path.join(os.path.dirname(__file__), "..", ".."))
    ap.add_argument("--build")
    ap.add_argument("--max-lines", type=int, default=800)
    a = ap.parse_args()
    failed = []

    def fail(name, problems):
        if problems:
            failed.append(name)
            print(f"FAIL {name}: {len(problems)} problem{'s' if len(problems) > 1 else ''}")
            for p in problems:
                print(f"    {p}")
        else:
            print(f"PASS {name}")

    for n, below in LAYERS.items():
        assert all(b in LAYERS for b in below), n
    fail("layers-acyclic", [" -> ".join(c) for c in sccs(LAYERS)])
    check_includes(a.root, fail)
    if a.build:
        check_calls(a.root, a.build, fail)
    check_sizes(a.root, a.max_lines, fail)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
