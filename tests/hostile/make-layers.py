#!/usr/bin/python3
"""Writes the hostile layer-tar corpus: DIR/NAME.tar and DIR/EXPECT
("NAME<TAB>reject<TAB>words the error must contain" or "NAME<TAB>accept").

    make-layers.py DIR [MAX_BYTES]

tests/integration/hostile.sh writes it to a temporary directory on every
run; the tars below MAX_BYTES also seed the layer-apply fuzzer
(make-layers.py tests/fuzz/corpus/layer_apply 65536).

Every escape aims at CANARY, a directory tests/integration/hostile.sh makes
and checks afterwards: an attack that worked would leave "pwned" there or
change "secret". The tars are made with Python's tarfile (which writes any
name it is given), and the few headers tarfile will not write are patched
in its output (size field, checksum)."""
import io
import os
import sys
import tarfile

CANARY = "/tmp/strata-hostile-canary"
tarfile.RECORDSIZE = 512  # no padding to 10 KiB: small seeds for the fuzzer
OUT = sys.argv[1] if len(sys.argv) > 1 else "."
MAX = int(sys.argv[2]) if len(sys.argv) > 2 else 1 << 40
MTIME = 1600000000
cases = []  # (name, expect, words)


def info(name, typ=tarfile.REGTYPE, **kw):
    ti = tarfile.TarInfo(name)
    ti.type = typ
    ti.mtime = MTIME
    ti.mode = kw.pop("mode", 0o755 if typ == tarfile.DIRTYPE else 0o644)
    for k, v in kw.items():
        setattr(ti, k, v)
    return ti


def tar(name, entries, expect, words="", fmt=tarfile.PAX_FORMAT):
    """entries: (TarInfo, data-or-None) pairs."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for ti, data in entries:
            if data is not None:
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
            else:
                t.addfile(ti)
    raw(name, buf.getvalue(), expect, words)


def raw(name, data, expect, words=""):
    if len(data) > MAX:
        return
    with open(os.path.join(OUT, name + ".tar"), "wb") as f:
        f.write(data)
    cases.append((name, expect, words))


def f(name, data=b"x\n", **kw):
    return (info(name, **kw), data)


def d(name, **kw):
    return (info(name, tarfile.DIRTYPE, **kw), None)


def sym(name, target):
    return (info(name, tarfile.SYMTYPE, linkname=target, mode=0o777), None)


def hard(name, target):
    return (info(name, tarfile.LNKTYPE, linkname=target), None)


def node(name, typ, major, minor):
    return (info(name, typ, devmajor=major, devminor=minor, mode=0o600), None)


def checksum(block):
    """A ustar header's checksum over its 512 bytes (chksum field as spaces)."""
    b = bytearray(block)
    b[148:156] = b" " * 8
    return b"%06o\0 " % sum(b)


def main():
    os.makedirs(OUT, exist_ok=True)
    benign = [d("etc"), f("etc/os-release", b"ID=hostile\n")]

    # path traversal
    tar("traversal-dotdot", benign + [f("../" * 12 + CANARY[1:] + "/pwned")], "reject", '".." in')
    tar("traversal-inner-dotdot", benign + [f("etc/../../../../../../../.." + CANARY + "/pwned")], "reject", '".." in')
    tar("traversal-pax-path", benign + [f("../../../../../.." + CANARY + "/pwned")], "reject", '".." in')
    tar("traversal-gnu-longname", benign + [f("a/" * 60 + "../" * 80 + CANARY[1:] + "/pwned")], "reject", '".." in',
        fmt=tarfile.GNU_FORMAT)
    # absolute names
    tar("absolute-name", benign + [f(CANARY + "/pwned")], "reject", "absolute")
    tar("absolute-dir", benign + [d(CANARY + "/newdir")], "reject", "absolute")
    # symlink-parent escapes
    tar("symlink-absolute-parent", benign + [sym("evil", CANARY), f("evil/pwned")], "reject", "outside the layer root")
    tar("symlink-relative-parent", benign + [sym("evil", "../" * 12 + CANARY[1:]), f("evil/pwned")], "reject",
        "outside the layer root")
    tar("symlink-chain-parent", benign + [sym("a", "b"), sym("b", "../../../../../../../../tmp"),
                                          f("a/strata-hostile-canary/pwned")], "reject", "outside the layer root")
    tar("symlink-dir-replaced", benign + [d("d"), f("d/ok"), sym("d", CANARY), f("d/pwned")], "reject",
        "duplicate entry")
    # hardlink escapes
    tar("hardlink-absolute", benign + [hard("h", CANARY + "/secret")], "reject", "absolute")
    tar("hardlink-dotdot", benign + [hard("h", "../" * 12 + CANARY[1:] + "/secret")], "reject", '".." in')
    tar("hardlink-through-symlink", benign + [sym("s", CANARY), hard("h", "s/secret")], "reject",
        "outside the layer root")
    tar("hardlink-then-write", benign + [sym("s", CANARY), hard("h", "s/secret"), f("h", b"pwned\n")], "reject",
        "outside the layer root")
    # whiteouts
    tar("whiteout-of-dotdot", benign + [f("etc/.wh..", b"")], "reject", "invalid whiteout")
    tar("whiteout-dotdot-path", benign + [f("../.wh.secret", b"")], "reject", '".." in')
    tar("whiteout-name-as-dir", benign + [f(".wh.etc/x")], "reject", "whiteout name used as a directory")
    # device nodes
    tar("device-char-0-0", benign + [node("null-ish", tarfile.CHRTYPE, 0, 0)], "reject", "reserved for whiteouts")
    tar("device-block", benign + [node("dev-sda", tarfile.BLKTYPE, 8, 0)], "accept")
    tar("device-char-null", benign + [node("dev-null", tarfile.CHRTYPE, 1, 3)], "accept")
    tar("fifo", benign + [(info("pipe", tarfile.FIFOTYPE), None)], "accept")
    # long names
    tar("name-component-300", benign + [f("c" * 300)], "reject", "name too long")
    tar("name-path-5000", benign + [f(("p" * 200 + "/") * 25 + "leaf")], "reject", "name too long")
    tar("symlink-target-5000", benign + [sym("longlink", "t" * 5000)], "reject", "too long")
    # duplicate entries: refused (the layer's files could not give its tar
    # back byte for byte, and which entry wins is up to the reader)
    tar("duplicate-file", benign + [f("dup", b"first\n"), f("dup", b"second\n")], "reject", "duplicate entry")
    tar("duplicate-dir-then-file", benign + [d("x"), f("x/in"), f("x", b"now a file\n")], "reject", "duplicate entry")
    tar("duplicate-file-then-dir", benign + [f("y"), d("y"), f("y/in")], "reject", "duplicate entry")
    tar("duplicate-root", [d("."), f("a"), d("./")], "reject", "duplicate entry")
    # ordinary layers the checks must not refuse
    tar("whiteouts-and-opaque", benign + [f(".wh.gone", b""), d("opq"), f("opq/.wh..wh..opq", b""), f("opq/new")],
        "accept")
    tar("hardlink-inside", benign + [f("orig", b"shared\n"), hard("etc/again", "orig")], "accept")
    tar("gnu-format", benign + [f("g/" + "n" * 150)], "accept", fmt=tarfile.GNU_FORMAT)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as t:
        for ti, data in benign:
            if data is not None:
                ti.size = len(data)
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    raw("gzip-compressed", buf.getvalue(), "accept")
    tar("symlink-absolute-target", benign + [sym("passwd-link", "/etc/passwd")], "accept")
    tar("setuid-file", benign + [f("bin-suid", b"#!/bin/sh\n", mode=0o4755)], "accept")

    # huge headers: written by hand where tarfile will not
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        ti = info("huge-size")
        ti.size = 0
        t.addfile(ti)
    data = bytearray(buf.getvalue())
    data[124:136] = b"77777777777\0"  # 8 GiB of data that is not there
    data[148:156] = checksum(data[:512])
    raw("header-size-8g-truncated", bytes(data), "reject", "Truncated tar archive")
    # a pax record that claims 100 GB
    hdr = info("././@PaxHeader", tarfile.XHDTYPE)
    body = b"99999999999 path=x\n"
    hdr.size = len(body)
    block = bytearray(hdr.tobuf(tarfile.USTAR_FORMAT))
    raw("pax-record-100g", bytes(block) + body + b"\0" * (512 - len(body)) + b"\0" * 1024, "reject",
        "Damaged tar archive")
    # a pax header of 64 MiB of "comment" records
    rec = b"1048 comment=" + b"c" * 1034 + b"\n"
    assert len(rec) == 1048
    big = rec * (64 * 1024 * 1024 // len(rec))
    hdr = info("././@PaxHeader", tarfile.XHDTYPE)
    hdr.size = len(big)
    block = bytes(hdr.tobuf(tarfile.USTAR_FORMAT))
    pad = b"\0" * ((512 - len(big) % 512) % 512)
    body_entry = info("after-huge-pax")
    raw("pax-header-64m", block + big + pad + bytes(body_entry.tobuf(tarfile.USTAR_FORMAT)) + b"\0" * 1024,
        "reject", "Special header too large")
    # not a tar at all, and nothing at all
    raw("garbage", bytes((i * 7919) % 251 for i in range(4096)), "reject", "Unrecognized archive format")
    raw("zero-bytes", b"", "reject", "layer input")

    with open(os.path.join(OUT, "EXPECT"), "w") as e:
        e.write("# name\taccept | reject\twords the error must contain (written by make-layers.py)\n")
        for name, expect, words in cases:
            e.write("%s\t%s\t%s\n" % (name, expect, words))
    print("%d tars in %s" % (len(cases), OUT))


if __name__ == "__main__":
    sys.exit(main())
