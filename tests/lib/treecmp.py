#!/usr/bin/env python3
"""Compare two directory trees file for file: type, mode, owner, size and
content of regular files, link targets, device numbers, extended attributes,
and which paths are hardlinks of each other. Modification times are not
compared. Prints one line per difference and exits 1 if there is any.

usage: treecmp.py [--exclude REL]... A B
An excluded path (relative, e.g. "proc" or "etc/hosts") is skipped with all
below it, in both trees.
"""
import hashlib
import os
import stat
import sys


def walk(root, excludes):
    out = {}
    inodes = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        for name in sorted(dirnames + filenames):
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if any(rel == e or rel.startswith(e + "/") for e in excludes):
                if name in dirnames:
                    dirnames.remove(name)
                continue
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            out[rel] = describe(path, st)
            if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                inodes.setdefault((st.st_dev, st.st_ino), []).append(rel)
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
    out["."] = describe(root, os.lstat(root))
    links = {}
    for group in inodes.values():
        for rel in group:
            links[rel] = tuple(sorted(group))
    return out, links


def describe(path, st):
    d = {
        "type": stat.S_IFMT(st.st_mode),
        "mode": oct(stat.S_IMODE(st.st_mode)),
        "owner": (st.st_uid, st.st_gid),
    }
    if stat.S_ISREG(st.st_mode):
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        d["size"] = st.st_size
        d["sha256"] = h.hexdigest()
    elif stat.S_ISLNK(st.st_mode):
        d["target"] = os.readlink(path)
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        d["rdev"] = (os.major(st.st_rdev), os.minor(st.st_rdev))
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        names = []
    d["xattrs"] = {n: os.getxattr(path, n, follow_symlinks=False).hex()
                   for n in sorted(names) if not n.startswith("trusted.overlay.")}
    return d


def main(argv):
    excludes = []
    args = []
    i = 0
    while i < len(argv):
        if argv[i] == "--exclude":
            excludes.append(argv[i + 1].strip("/"))
            i += 2
        else:
            args.append(argv[i])
            i += 1
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    a, alinks = walk(args[0], excludes)
    b, blinks = walk(args[1], excludes)
    diffs = 0
    for rel in sorted(set(a) | set(b)):
        if rel not in b:
            print(f"only in {args[0]}: {rel}")
        elif rel not in a:
            print(f"only in {args[1]}: {rel}")
        elif a[rel] != b[rel]:
            keys = [k for k in sorted(set(a[rel]) | set(b[rel])) if a[rel].get(k) != b[rel].get(k)]
            print(f"differs: {rel}: " + ", ".join(f"{k} {a[rel].get(k)} != {b[rel].get(k)}" for k in keys))
        elif alinks.get(rel) != blinks.get(rel):
            print(f"hardlinks differ: {rel}: {alinks.get(rel)} != {blinks.get(rel)}")
        else:
            continue
        diffs += 1
    count = len(a)
    print(f"compared {count} entries, {diffs} differences")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
