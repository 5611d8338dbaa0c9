#!/usr/bin/python3
"""An example out-of-process volume plugin speaking Docker's VolumeDriver
protocol (HTTP POST of JSON on a unix socket), written only with Python's
standard library. strata's tests use it; it also shows a plugin author the
whole protocol in one page.

    volume_plugin.py SOCKET STATE_DIR

Volumes are directories STATE_DIR/volumes/NAME; the plugin counts mounts
per ID itself (as Docker plugins do) and logs each call to STATE_DIR/calls.log.

For the tests, STATE_DIR/behave may hold lines "METHOD=MODE" that make one
method misbehave (re-read on every call): MODE is
    error      answer {"Err": "..."} (the plugin's own words)
    http500    answer HTTP 500 with a text body
    hang       never answer
    malformed  answer HTTP 200 with a body that is not JSON
    raw        answer HTTP 200 with the bytes of STATE_DIR/raw/METHOD
               (hostile replies: tests/integration/hostile.sh)
"""
import http.server
import json
import os
import shutil
import socketserver
import sys
import threading
import time

SOCKET, STATE = sys.argv[1], sys.argv[2]
VOLUMES = os.path.join(STATE, "volumes")
LOCK = threading.Lock()
MOUNTS = {}  # name -> set of mount ids


def behaviour(method):
    try:
        with open(os.path.join(STATE, "behave")) as f:
            for line in f:
                key, _, mode = line.strip().partition("=")
                if key == method:
                    return mode
    except FileNotFoundError:
        pass
    return ""


def vol_dir(name):
    if not name or "/" in name or name.startswith("."):
        raise ValueError("bad volume name %r" % name)
    return os.path.join(VOLUMES, name)


def handle(method, req):
    """The protocol: one function per endpoint, each returning the reply."""
    if method == "Plugin.Activate":
        return {"Implements": ["VolumeDriver"]}
    if method == "VolumeDriver.Capabilities":
        return {"Capabilities": {"Scope": "local"}}
    if method == "VolumeDriver.List":
        names = sorted(os.listdir(VOLUMES))
        return {"Volumes": [{"Name": n, "Mountpoint": os.path.join(VOLUMES, n, "data")} for n in names], "Err": ""}
    name = req.get("Name", "")
    d = vol_dir(name)
    if method == "VolumeDriver.Create":
        os.makedirs(os.path.join(d, "data"), exist_ok=True)
        with open(os.path.join(d, "opts.json"), "w") as f:
            json.dump(req.get("Opts") or {}, f)
        return {"Err": ""}
    if not os.path.isdir(d):
        return {"Err": "no such volume: %s" % name}
    if method == "VolumeDriver.Remove":
        if MOUNTS.get(name):
            return {"Err": "volume %s is mounted by %s" % (name, ",".join(sorted(MOUNTS[name])))}
        shutil.rmtree(d)
        return {"Err": ""}
    if method == "VolumeDriver.Mount":
        MOUNTS.setdefault(name, set()).add(req["ID"])
        return {"Mountpoint": os.path.join(d, "data"), "Err": ""}
    if method == "VolumeDriver.Unmount":
        ids = MOUNTS.get(name, set())
        if req["ID"] not in ids:
            return {"Err": "volume %s is not mounted by %s" % (name, req["ID"])}
        ids.discard(req["ID"])
        return {"Err": ""}
    if method == "VolumeDriver.Path":
        return {"Mountpoint": os.path.join(d, "data") if MOUNTS.get(name) else "", "Err": ""}
    if method == "VolumeDriver.Get":
        with open(os.path.join(d, "opts.json")) as f:
            opts = json.load(f)
        status = {"mounts": len(MOUNTS.get(name, ())), "opts": opts}
        return {"Volume": {"Name": name, "Mountpoint": os.path.join(d, "data"), "Status": status}, "Err": ""}
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def address_string(self):
        return "unix"

    def log_message(self, fmt, *args):
        pass

    def reply(self, code, body, ctype="application/vnd.docker.plugins.v1.2+json"):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        method = self.path.lstrip("/")
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with open(os.path.join(STATE, "calls.log"), "a") as log:
            log.write("%s %s\n" % (method, raw.decode(errors="replace") or "-"))
        mode = behaviour(method)
        if mode == "hang":
            time.sleep(3600)
            return
        if mode == "raw":
            with open(os.path.join(STATE, "raw", method), "rb") as f:
                data = f.read()
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.docker.plugins.v1.2+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if mode == "malformed":
            return self.reply(200, '{"Mountpoint": "/tmp", "Err": ')
        if mode == "http500":
            return self.reply(500, "plugin exploded: disk on fire", "text/plain")
        if mode == "error":
            return self.reply(200, json.dumps({"Err": "%s refused by the test plugin" % method}))
        try:
            req = json.loads(raw) if raw else {}
            with LOCK:
                resp = handle(method, req or {})
        except Exception as e:  # a plugin reports failures in Err
            return self.reply(500, json.dumps({"Err": "%s: %s" % (method, e)}))
        if resp is None:
            return self.reply(404, "404 page not found\n", "text/plain")
        self.reply(200, json.dumps(resp))


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main():
    os.makedirs(VOLUMES, exist_ok=True)
    if os.path.exists(SOCKET):
        os.unlink(SOCKET)
    with Server(SOCKET, Handler) as srv:
        srv.serve_forever()


if __name__ == "__main__":
    main()
