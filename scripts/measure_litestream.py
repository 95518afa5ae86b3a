"""Litestream's memory and descriptors per tracked file: `python scripts/measure_litestream.py --files 1000`.

Creates N small guild-like WAL files in a temporary folder, starts the daemon the bot starts, registers
each file (as `run` does) with a file:// replica, lets it sync, then reads the daemon's RSS and open
descriptors from /proc. One JSON line; run it once per size (it is not a loop benchmark).

Each file holds 6 descriptors in the daemon: 5,000 files need an open-files limit above 30,064. The daemon's soft
limit is raised to its hard one; a hard limit too low stops the run before it starts (at 20,000 the daemon stopped
answering `register` after 3,361 files, each call then timing out): `prlimit --nofile=40000 python …`.
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.replicate.litestream import FDS_PER_FILE, Litestream


def proc_figures(pid: int) -> tuple[int, int]:
    rss_kib = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                   if line.startswith("VmRSS:"))
    return rss_kib, len(os.listdir(f"/proc/{pid}/fd"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds for the first syncs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="guildshelf-ls-") as folder:
        root = Path(folder) / "dbs"
        root.mkdir()
        paths = []
        for k in range(args.files):
            path = root / f"{(1 << 40) + k}.sqlite3"
            conn = sqlite3.connect(path)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("CREATE TABLE t (x)")
            conn.execute("INSERT INTO t VALUES (1)")
            conn.commit()
            conn.close()
            paths.append(path)
        daemon = Litestream(Path(folder) / "ls", f"file://{folder}/replica")
        daemon.start()
        try:
            if daemon.capacity() < args.files:
                sys.exit(f"the daemon's open-files limit allows {daemon.capacity()} files ({FDS_PER_FILE} "
                         f"descriptors each), not {args.files}: raise the hard limit (prlimit --nofile=N)")
            assert daemon._process is not None
            pid = daemon._process.pid
            rss0, fds0 = proc_figures(pid)
            start = time.perf_counter()
            daemon.reconcile(paths)
            register_s = time.perf_counter() - start
            time.sleep(args.settle)
            rss, fds = proc_figures(pid)
        finally:
            daemon.stop()
    print(json.dumps({"files": args.files, "register_s": round(register_s, 1),
                      "rss_mib_idle": round(rss0 / 1024, 1), "rss_mib": round(rss / 1024, 1),
                      "fds_idle": fds0, "fds": fds,
                      "rss_kib_per_file": round((rss - rss0) / args.files, 1),
                      "fds_per_file": round((fds - fds0) / args.files, 2)}))


if __name__ == "__main__":
    main()
