#!/usr/bin/python3
"""Seeds for the image-archive fuzzer (tests/fuzz/fuzz_image_load.c):
small docker-archives and OCI image layouts, valid ones and ones broken in
one place each (a digest, a blob, a type), written with Python's tarfile
and json. Digests are computed, so the valid seeds load.

    make-image-corpus.py DIR"""
import hashlib
import io
import json
import os
import sys
import tarfile

tarfile.RECORDSIZE = 512
MTIME = 1600000000


def sha(b):
    return hashlib.sha256(b).hexdigest()


def tar_bytes(files):
    """files: (name, bytes) pairs -> an uncompressed tar."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in files:
            ti = tarfile.TarInfo(name)
            ti.mtime = MTIME
            ti.mode = 0o644
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def layer(n):
    return tar_bytes([("etc/layer%d" % n, b"layer %d\n" % n)])


def config(layers, **extra):
    c = {"architecture": "amd64", "os": "linux", "created": "2026-01-02T03:04:05Z",
         "config": {"Cmd": ["/bin/sh"]},
         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha(l) for l in layers]},
         "history": [{"created_by": "layer %d" % i} for i in range(len(layers))]}
    c.update(extra)
    return json.dumps(c, separators=(",", ":")).encode()


def docker_archive(layers, tags=("fuzz:1",), break_=None):
    cfg = config(layers)
    files = []
    paths = []
    for l in layers:
        p = "%s/layer.tar" % sha(l)
        paths.append(p)
        files.append((p, l if break_ != "layer" else l[:-600] + b"x" * 600))
    cname = "%s.json" % sha(cfg)
    files.append((cname, cfg if break_ != "config" else cfg.replace(b"amd64", b"arm64")))
    man = [{"Config": cname, "RepoTags": list(tags), "Layers": paths}]
    if break_ == "manifest-type":
        man = {"Config": cname}
    files.append(("manifest.json", json.dumps(man).encode()))
    return tar_bytes(files)


def oci_layout(layers, break_=None, nested=False):
    cfg = config(layers)
    blobs = {sha(cfg): cfg}
    ldesc = []
    for l in layers:
        blobs[sha(l)] = l
        ldesc.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + sha(l),
                      "size": len(l)})
    man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                 "digest": "sha256:" + sha(cfg), "size": len(cfg)},
                      "layers": ldesc}).encode()
    blobs[sha(man)] = man
    mdesc = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + sha(man),
             "size": len(man), "annotations": {"org.opencontainers.image.ref.name": "fuzz:oci"},
             "platform": {"architecture": "amd64", "os": "linux"}}
    if break_ == "size":
        mdesc["size"] += 1
    if nested:
        inner = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                            "manifests": [mdesc]}).encode()
        blobs[sha(inner)] = inner
        mdesc = {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": "sha256:" + sha(inner),
                 "size": len(inner)}
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [mdesc]}
    files = [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", json.dumps(index).encode())]
    for h, b in sorted(blobs.items()):
        if break_ == "missing-blob" and b is layers[0]:
            continue
        files.append(("blobs/sha256/" + h, b))
    return tar_bytes(files)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    one, two = [layer(1)], [layer(1), layer(2)]
    seeds = {
        "docker-one-layer": docker_archive(one),
        "docker-two-layers-two-tags": docker_archive(two, tags=("fuzz:1", "fuzz:2")),
        "docker-layer-changed": docker_archive(one, break_="layer"),
        "docker-config-changed": docker_archive(one, break_="config"),
        "docker-manifest-not-a-list": docker_archive(one, break_="manifest-type"),
        "oci-one-layer": oci_layout(one),
        "oci-two-layers": oci_layout(two),
        "oci-nested-index": oci_layout(one, nested=True),
        "oci-wrong-size": oci_layout(one, break_="size"),
        "oci-missing-blob": oci_layout(one, break_="missing-blob"),
        "neither": tar_bytes([("readme", b"not an image\n")]),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name + ".tar"), "wb") as f:
            f.write(data)
    print("%d seeds in %s" % (len(seeds), out))


if __name__ == "__main__":
    main()
