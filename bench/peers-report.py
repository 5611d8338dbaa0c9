#!/usr/bin/env python3
"""The report of bench/peers.sh: medians per environment, driver family,
operation and tool; ratios strata/peer and strata/raw baseline; a markdown
file, a gnuplot bar chart, optionally the README's table.

  peers-report.py SAMPLES.tsv META.tsv OUT_PREFIX [--readme README.md]

SAMPLES.tsv: env, engine, driver, op, run, seconds (or "fail").
META.tsv: key<TAB>value lines (machine), "env<TAB>name<TAB>description",
"skip<TAB>env<TAB>engine<TAB>driver<TAB>why".
"""
import os
import statistics
import subprocess
import sys
import tempfile

OPS = ["import", "build-cold", "build-cached", "create", "run", "commit", "mount", "save", "remove"]
ENGINES = ["strata", "docker", "buildkit", "podman", "buildah", "ctr"]
LABEL = {"strata": "strata", "docker": "docker", "buildkit": "BuildKit", "podman": "podman",
         "buildah": "buildah", "ctr": "ctr"}
FAMILY = {"overlay": "overlay", "overlay2": "overlay", "overlayfs": "overlay",
          "vfs": "vfs", "native": "vfs", "btrfs": "btrfs"}
# raw baseline of an operation: (raw op, label, families it applies to)
RAW = {
    "import": ("import", "tar -x", None),
    "save": ("save", "tar -c", None),
    "mount": ("mount", "mount(2)", None),
    "remove": ("remove", "rm -rf", None),
    "create": ("create", "cp -a", {"vfs"}),
    "commit": ("create", "cp -a", {"vfs"}),
}
# a second raw figure shown beside the first (not a target): strata's save
# fsyncs its output, tar -c does not
RAW_ALSO = {"save": ("save-fsync", "with fsync")}
RAW_TARGET = 1.2
BEGIN, END = "<!-- bench/peers: begin -->", "<!-- bench/peers: end -->"


def load(samples_path, meta_path):
    samples, fails = {}, {}
    with open(samples_path) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) != 6:
                continue
            key = tuple(p[:4])
            if p[5] == "fail":
                fails[key] = fails.get(key, 0) + 1
            else:
                samples.setdefault(key, []).append(float(p[5]))
    meta, envs, skips = [], [], []
    with open(meta_path) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if p[0] == "env" and len(p) >= 3:
                envs.append((p[1], p[2]))
            elif p[0] == "skip" and len(p) >= 5:
                skips.append(p[1:5])
            elif len(p) >= 2:
                meta.append((p[0], p[1]))
    return samples, fails, meta, envs, skips


def secs(v):
    if v is None:
        return "-"
    if v >= 10:
        return "%.1f s" % v
    if v >= 1:
        return "%.2f s" % v
    if v >= 0.01:
        return "%.3f s" % v
    return "%.1f ms" % (v * 1e3)


class Report:
    def __init__(self, samples, fails, meta, envs, skips):
        self.samples, self.fails, self.meta, self.envs, self.skips = samples, fails, meta, envs, skips
        self.losses, self.raw_misses = [], []
        self.wins = self.comparisons = self.raw_ok = self.raw_n = 0

    def med(self, env, engine, driver, op):
        v = self.samples.get((env, engine, driver, op))
        return statistics.median(v) if v else None

    def nfail(self, env, engine, driver, op):
        return self.fails.get((env, engine, driver, op), 0)

    def families(self, env):
        """family -> [(engine, driver)], strata first"""
        fam = {}
        for (e, eng, drv, _op) in self.samples:
            if e != env or eng == "raw" or drv not in FAMILY:
                continue
            fam.setdefault(FAMILY[drv], set()).add((eng, drv))
        order = {n: i for i, n in enumerate(ENGINES)}
        return {k: sorted(v, key=lambda x: order.get(x[0], 99)) for k, v in fam.items()}

    def table(self, env, family, cols):
        strata = [c for c in cols if c[0] == "strata"]
        peers = [c for c in cols if c[0] != "strata"]
        head = ["operation"] + ["%s %s" % (LABEL[e], d) for e, d in strata + peers] + ["raw baseline"]
        rows = []
        for op in OPS:
            svals = [self.med(env, e, d, op) for e, d in strata]
            if all(v is None for v in svals) and all(self.med(env, e, d, op) is None for e, d in peers):
                continue
            s = svals[0] if svals else None
            sname = "strata %s" % strata[0][1] if strata else "strata"
            row = [op]
            for (e, d), v in zip(strata, svals):
                nf = self.nfail(env, e, d, op)
                row.append(("**%s**" % secs(v) if v is not None else "fail") + (" (%d failed)" % nf if nf else ""))
            for e, d in peers:
                v = self.med(env, e, d, op)
                nf = self.nfail(env, e, d, op)
                if v is None:
                    row.append("fail" if nf else "-")
                    continue
                cell = secs(v)
                if s is not None:
                    r = s / v
                    self.comparisons += 1
                    if r < 1:
                        self.wins += 1
                    else:
                        self.losses.append((env, family, op, "%s %s" % (LABEL[e], d), s, v))
                    cell += " (%s)" % ("**%.2fx**" % r if r >= 1 else "%.2fx" % r)
                if nf:
                    cell += " (%d failed)" % nf
                row.append(cell)
            raw = RAW.get(op)
            rv = None
            if raw and (raw[2] is None or family in raw[2]):
                rv = self.med(env, "raw", "-", raw[0])
            if rv is None:
                row.append("-")
            else:
                cell = "%s %s" % (secs(rv), raw[1])
                if s is not None:
                    r = s / rv
                    self.raw_n += 1
                    if r <= RAW_TARGET:
                        self.raw_ok += 1
                    else:
                        self.raw_misses.append((env, family, op, raw[1], s, rv))
                    cell += " (%s)" % ("**%.2fx**" % r if r > RAW_TARGET else "%.2fx" % r)
                also = RAW_ALSO.get(op)
                av = self.med(env, "raw", "-", also[0]) if also else None
                if av is not None:
                    cell += "; %s %s" % (secs(av), also[1])
                    if s is not None:
                        cell += " (%.2fx)" % (s / av)
                row.append(cell)
            rows.append(row)
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(out)

    def markdown(self, plot_name):
        m = dict(self.meta)
        lines = ["# strata and its peers, side by side (bench/peers.sh)", ""]
        lines.append("Machine: %s; kernel %s; %s memory; %s." % (
            m.get("cpu", "?"), m.get("kernel", "?"), m.get("memory", "?"), m.get("disk", "?")))
        lines.append("Run %s; %s; %s; scheduling priority: %s." % (
            m.get("date", "?"), m.get("workload", "?"), m.get("load", "?"), m.get("priority", "?")))
        lines.append("Versions: strata %s; docker %s; podman %s; buildah %s; containerd %s; runc %s." % (
            m.get("strata", "?"), m.get("docker", "?"), m.get("podman", "?"), m.get("buildah", "?"),
            m.get("containerd", "?"), m.get("runc", "?")))
        lines.append("")
        lines.append("Medians in seconds, every operation through the tool's command line. In a peer's "
                     "cell, (strata/peer): below 1 strata is faster, **bold** where strata is not. "
                     "In the raw column, (strata/raw), **bold** above the %.1fx target." % RAW_TARGET)
        for env, desc in self.envs:
            fams = self.families(env)
            for fam in ["overlay", "vfs", "btrfs"]:
                if fam not in fams:
                    continue
                lines += ["", "### %s, %s drivers" % (desc, fam), "", self.table(env, fam, fams[fam])]
        if self.skips:
            lines += ["", "Skipped: " + "; ".join("%s %s/%s: %s" % tuple(s) for s in self.skips) + "."]
        lines += ["", "strata faster than the peer in %d of %d comparisons; within %.1fx of the raw baseline "
                  "in %d of %d." % (self.wins, self.comparisons, RAW_TARGET, self.raw_ok, self.raw_n)]
        if self.losses:
            lines += ["", "Where strata is not faster:"]
            for env, fam, op, peer, s, v in self.losses:
                lines.append("- %s %s, %s: strata %s, %s %s" % (env, fam, op, secs(s), peer, secs(v)))
        if self.raw_misses:
            lines += ["", "Where strata is above %.1fx of the raw baseline:" % RAW_TARGET]
            for env, fam, op, what, s, v in self.raw_misses:
                lines.append("- %s %s, %s: strata %s, %s %s (%.2fx)" % (env, fam, op, secs(s), what, secs(v), s / v))
        if plot_name:
            lines += ["", "![bar chart](%s)" % plot_name]
        return "\n".join(lines) + "\n"

    def plot(self, path):
        """One panel per environment and family; bars per operation, one
        series per tool (strata first) and the raw baseline; log scale."""
        panels = []
        for env, desc in self.envs:
            fams = self.families(env)
            for fam in ["overlay", "vfs", "btrfs"]:
                if fam in fams:
                    panels.append((env, desc, fam, fams[fam]))
        if not panels:
            return False
        with tempfile.TemporaryDirectory() as tmp:
            script = ["set terminal svg size 1200,%d dynamic font 'sans,11' background '#ffffff'" % (380 * len(panels) + 40),
                      "set output '%s'" % path.replace("'", "''"),
                      "set style data histogram", "set style histogram cluster gap 1",
                      "set style fill solid 0.85 border -1", "set boxwidth 0.9", "set logscale y",
                      "set format y '%g'", "set ylabel 'seconds (median)'", "set grid ytics",
                      "set key outside right top", "set datafile missing '-'",
                      "set multiplot layout %d,1 title 'strata and its peers (bench/peers.sh)'" % len(panels)]
            for i, (env, desc, fam, cols) in enumerate(panels):
                data = os.path.join(tmp, "d%d" % i)
                series = ["%s %s" % (LABEL[e], d) for e, d in cols] + ["raw"]
                with open(data, "w") as f:
                    for op in OPS:
                        vals = [self.med(env, e, d, op) for e, d in cols]
                        raw = RAW.get(op)
                        rv = None
                        if raw and (raw[2] is None or fam in raw[2]):
                            rv = self.med(env, "raw", "-", raw[0])
                        vals.append(rv)
                        if all(v is None for v in vals):
                            continue
                        f.write(op + " " + " ".join("-" if v is None else "%.6f" % v for v in vals) + "\n")
                script.append("set title '%s, %s drivers'" % (desc, fam))
                script.append("plot " + ", ".join("'%s' using %d%s title '%s'" % (data, j + 2, ":xtic(1)" if j == 0 else "", s)
                                                 for j, s in enumerate(series)))
            script.append("unset multiplot")
            gp = os.path.join(tmp, "plot.gp")
            with open(gp, "w") as f:
                f.write("\n".join(script) + "\n")
            try:
                subprocess.run(["gnuplot", gp], check=True)
            except (OSError, subprocess.CalledProcessError) as e:
                print("peers-report: no plot (gnuplot: %s)" % e, file=sys.stderr)
                return False
        return True


def update_readme(readme, table_md, md_name):
    text = open(readme).read()
    if BEGIN not in text or END not in text:
        print("peers-report: %s has no %s ... %s markers; left alone" % (readme, BEGIN, END), file=sys.stderr)
        return
    a = text.index(BEGIN) + len(BEGIN)
    b = text.index(END)
    body = table_md.split("\n", 2)[2]  # without the title
    body = body.replace("![bar chart](", "![bar chart](bench/results/")
    new = text[:a] + "\n" + body.rstrip("\n") + "\n\n(From `bench/results/%s`.)\n" % md_name + text[b:]
    with open(readme, "w") as f:
        f.write(new)


def main():
    args = sys.argv[1:]
    readme = None
    if "--readme" in args:
        i = args.index("--readme")
        readme = args[i + 1]
        del args[i:i + 2]
    if len(args) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    samples_path, meta_path, prefix = args
    rep = Report(*load(samples_path, meta_path))
    svg = prefix + ".svg"
    have_plot = rep.plot(svg)
    md = rep.markdown(os.path.basename(svg) if have_plot else None)
    with open(prefix + ".md", "w") as f:
        f.write(md)
    print(md)
    if readme:
        update_readme(readme, md, os.path.basename(prefix + ".md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
