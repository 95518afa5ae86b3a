"""bench_storage.py --postgres: a DSN is never shown with its password, and one that cannot be used stops
the benchmark at once with one sentence and exit code 2. No PostgreSQL server needed: only 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from _bench_postgres import PostgresSide, PostgresUnavailable, _unavailable, redact  # noqa: E402

SECRET = "s3cret-pw"


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 bound by this test and never listened on: a connection to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def run_bench(*args: str, prelude: str = "pass") -> subprocess.CompletedProcess[str]:
    code = (f"import runpy, sys; {prelude}; sys.argv = ['bench_storage.py', *{list(args)!r}]; "
            "runpy.run_path('scripts/bench_storage.py', run_name='__main__')")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("dsn", "shown"), [
    (f"postgresql://bench:{SECRET}@127.0.0.1:5432/bench", "postgresql://bench:***@127.0.0.1:5432/bench"),
    (f"postgres://bench:{SECRET}@127.0.0.1/bench?sslmode=disable&password={SECRET}",
     "postgres://bench:***@127.0.0.1/bench?sslmode=disable&password=***"),
    (f"postgresql://bench:p@ss:{SECRET}@127.0.0.1/bench", "postgresql://bench:***@127.0.0.1/bench"),
    ("postgresql://bench@127.0.0.1/bench", "postgresql://bench@127.0.0.1/bench"),
])
def test_redact_hides_the_password_and_keeps_the_rest(dsn: str, shown: str) -> None:
    assert redact(dsn) == shown


def test_a_driver_message_repeating_the_password_is_scrubbed() -> None:
    dsn = f"postgresql://bench:{SECRET.replace('-', '%2D')}@127.0.0.1/bench"
    error = _unavailable(dsn, ValueError(f"bad option near {SECRET}"))
    assert SECRET not in str(error)
    assert str(error).startswith("cannot use PostgreSQL at postgresql://bench:***@127.0.0.1/bench: ")


@pytest.mark.asyncio
async def test_a_closed_port_is_refused_in_one_sentence(closed_port: int) -> None:
    with pytest.raises(PostgresUnavailable) as caught:
        await PostgresSide.open(f"postgresql://bench:{SECRET}@127.0.0.1:{closed_port}/bench")
    assert str(caught.value) == (f"cannot use PostgreSQL at postgresql://bench:***@127.0.0.1:{closed_port}/bench: "
                                 "nothing listens there (connection refused).")


def test_the_benchmark_stops_before_measuring_with_exit_code_2(closed_port: int) -> None:
    result = run_bench("--quick", "--postgres", f"postgresql://bench:{SECRET}@127.0.0.1:{closed_port}/bench")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "connection refused" in result.stderr
    assert SECRET not in result.stderr


def test_a_dsn_that_is_no_url_is_refused_without_being_echoed() -> None:
    result = run_bench("--postgres", f"host=127.0.0.1 password={SECRET}")
    assert result.returncode == 2
    assert result.stderr == ("bench_storage.py: --postgres takes a URL such as "
                             "postgresql://USER:PASSWORD@127.0.0.1:5432/DATABASE.\n")


def test_without_asyncpg_help_works_and_postgres_asks_for_it(closed_port: int) -> None:
    blocked = "sys.modules['asyncpg'] = None"
    shown = run_bench("--help", prelude=blocked)
    refused = run_bench("--postgres", f"postgresql://bench@127.0.0.1:{closed_port}/bench", prelude=blocked)
    assert shown.returncode == 0 and "--postgres DSN" in shown.stdout
    assert refused.returncode == 2
    assert refused.stderr == "bench_storage.py: --postgres needs asyncpg: pip install -e '.[bench]'.\n"
