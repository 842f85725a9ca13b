#!/usr/bin/env python3
"""Memory figures for the density benchmark.

  procmem.py meminfo            median of 5 samples (1 s) of /proc/meminfo
                                fields, in KiB, as JSON
  procmem.py pss PID...         the PIDs and all their descendants: count,
                                summed Pss and Rss (KiB), as JSON
  procmem.py alive PID...       how many of the PIDs still exist
"""
import json
import os
import statistics
import sys
import time

FIELDS = ("MemAvailable", "MemFree", "Slab", "SUnreclaim", "KernelStack",
          "PageTables", "Percpu", "Shmem")


def meminfo():
    samples = []
    for i in range(5):
        row = {}
        with open("/proc/meminfo") as f:
            for line in f:
                k, v = line.split(":", 1)
                if k in FIELDS:
                    row[k] = int(v.split()[0])
        samples.append(row)
        if i < 4:
            time.sleep(0.25)
    return {k: statistics.median(s.get(k, 0) for s in samples) for k in FIELDS}


def children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    return kids


def pss(pids):
    kids = children_map()
    seen, todo = set(), list(pids)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        todo.extend(kids.get(p, []))
    total = {"procs": 0, "pss_kb": 0, "rss_kb": 0}
    for p in seen:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total["pss_kb"] += int(line.split()[1])
                    elif line.startswith("Rss:"):
                        total["rss_kb"] += int(line.split()[1])
            total["procs"] += 1
        except OSError:
            pass
    return total


def slope(path):
    """Least-squares KiB of MemAvailable lost per instance over a ramp: the
    file has lines "INSTANCES MEMAVAILABLE_KIB"; None with under 3 points."""
    pts = [tuple(map(float, l.split())) for l in open(path) if len(l.split()) == 2]
    if len(pts) < 3:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    return -sum((x - mx) * (y - my) for x, y in pts) / sxx if sxx else None


def main():
    cmd, args = sys.argv[1], [int(a) for a in sys.argv[2:]]
    if cmd == "meminfo":
        print(json.dumps(meminfo()))
    elif cmd == "pss":
        print(json.dumps(pss(args)))
    elif cmd == "alive":
        print(sum(os.path.exists(f"/proc/{p}") for p in args))


if __name__ == "__main__":
    main()
