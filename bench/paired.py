#!/usr/bin/env python3
"""Paired runs: several commands run in turn, one run each per round, so
that a change in the host's load falls on all of them alike (hyperfine
measures one command after the other, and a minute of other load on this
shared host moves one row only). The rounds go through every order of the
commands in turn: each command follows each other one equally often, as
what a run leaves the kernel to finish (a network namespace's teardown
runs after its processes are gone) falls on the run after it. A rotation
would keep one successor per command.

  paired.py OUT.json ROUNDS WARMUP NAME=CMD [NAME=CMD ...]

A NAME ending in "@crun-ns" runs in crun's mount namespace: the mount
namespace of the process whose PID is in $CRUN_NS_PID (private, with
/sys/fs/cgroup/unified unmounted, as the rest of the suite runs crun); the
driver enters it just for that command's spawn and returns. Each run is
timed from spawn to reaped exit; a run that fails is counted and left out.
"""
import ctypes
import itertools
import json
import os
import shlex
import statistics
import sys
import time

CLONE_NEWNS = 0x00020000
libc = ctypes.CDLL(None, use_errno=True)


def setns(fd):
    if libc.setns(fd, CLONE_NEWNS) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "setns: " + os.strerror(err))


def main():
    out, rounds, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    cmds = []
    for arg in sys.argv[4:]:
        name, cmd = arg.split("=", 1)
        crun_ns = name.endswith("@crun-ns")
        cmds.append((name.removesuffix("@crun-ns"), shlex.split(cmd), crun_ns))
    home = os.open("/proc/self/ns/mnt", os.O_RDONLY)
    cwd = os.getcwd()
    other = None
    if any(c[2] for c in cmds):
        other = os.open(f"/proc/{os.environ['CRUN_NS_PID']}/ns/mnt", os.O_RDONLY)
    devnull = os.open("/dev/null", os.O_RDWR)
    times = {name: [] for name, _, _ in cmds}
    failed = {name: 0 for name, _, _ in cmds}
    orders = list(itertools.permutations(cmds))
    for i in range(warmup + rounds):
        for name, argv, crun_ns in orders[i % len(orders)]:
            if crun_ns:
                setns(other)
            t = time.perf_counter()
            pid = os.posix_spawnp(argv[0], argv, os.environ,
                                  file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 0),
                                                (os.POSIX_SPAWN_DUP2, devnull, 1),
                                                (os.POSIX_SPAWN_DUP2, devnull, 2)])
            _, status = os.waitpid(pid, 0)
            dt = (time.perf_counter() - t) * 1000
            if crun_ns:
                setns(home)
                os.chdir(cwd)
            if i < warmup:
                continue
            if status != 0:
                failed[name] += 1
            else:
                times[name].append(dt)
    rows = {}
    for name, ts in times.items():
        ts.sort()
        rows[name] = {"runs": len(ts), "failed": failed[name],
                      "median_ms": statistics.median(ts) if ts else None,
                      "min_ms": ts[0] if ts else None, "max_ms": ts[-1] if ts else None,
                      "p25_ms": ts[len(ts) // 4] if ts else None,
                      "p75_ms": ts[3 * len(ts) // 4] if ts else None}
    json.dump({"rounds": rounds, "warmup": warmup, "rows": rows}, open(out, "w"), indent=1)


main()
