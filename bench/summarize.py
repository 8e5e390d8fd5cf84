#!/usr/bin/env python3
"""Summarise several bench/run.sh result files (TSV) into one Markdown table.

Usage: python3 bench/summarize.py bench/results/A.tsv bench/results/B.tsv ...

For each step and tool it prints the number of runs, the median and the minimum wall time, the
median CPU time, the median peak RSS and the median repository size, and (where the files have
it) the median CPU time that other processes used during the step. Runs whose status is not `ok`
are left out and counted separately. On a shared machine the minimum wall time is the figure
least distorted by other processes; the median shows what a typical run saw.
"""

import csv
import statistics
import sys

STEPS = [
    ("first", "first backup into a fresh repository"),
    ("unchanged", "unchanged re-backup"),
    ("edited", "backup after editing files"),
    ("restore", "full restore of the latest snapshot"),
]


def main(paths):
    if not paths:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    rows = []
    for path in paths:
        with open(path, newline="") as f:
            rows.extend(csv.DictReader(f, delimiter="\t"))
    tools = []
    for r in rows:
        if r["tool"] not in tools:
            tools.append(r["tool"])
    print("| step | tool | runs | wall s median | wall s min | CPU s median | peak RSS MiB median "
          "| repo MiB median | others' CPU s median |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for step, title in STEPS:
        for tool in tools:
            mine = [r for r in rows if r["tool"] == tool and r["step"] == step]
            ok = [r for r in mine if r["status"] == "ok"]
            if not ok:
                continue
            versions = sorted({r["version"] for r in ok})
            wall = [float(r["wall_s"]) for r in ok]
            cpu = [float(r["cpu_s"]) for r in ok]
            rss = [int(r["maxrss_kib"]) / 1024 for r in ok]
            repo = [int(r["repo_bytes"]) / 1048576 for r in ok]
            others = [float(r["others_cpu_s"]) for r in ok if r.get("others_cpu_s")]
            failed = len(mine) - len(ok)
            runs = f"{len(ok)}" + (f" (+{failed} failed)" if failed else "")
            print(f"| {title} | {tool} {'/'.join(versions)} | {runs} "
                  f"| {statistics.median(wall):.2f} | {min(wall):.2f} | {statistics.median(cpu):.2f} "
                  f"| {statistics.median(rss):.1f} | {statistics.median(repo):.1f} "
                  f"| {f'{statistics.median(others):.2f}' if others else 'n/a'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
