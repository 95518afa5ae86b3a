"""Dependency resolvers are generated once per command, not at every invocation (linkd's bound copies)."""
from __future__ import annotations

from pathlib import Path

import linkd.solver
import pytest

from app.sandbox.harness import running_bot

GUILD = 181_000_000_000_000_001
ADMIN = 181_000_000_000_000_002


@pytest.mark.asyncio
async def test_a_command_run_many_times_generates_its_resolver_once(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    generated: list[str] = []
    codegen = linkd.solver.AutoInjecting._codegen_dependency_func

    def counting(self: linkd.solver.AutoInjecting) -> object:
        generated.append(self._func.__qualname__)
        return codegen(self)

    monkeypatch.setattr(linkd.solver.AutoInjecting, "_codegen_dependency_func", counting)
    async with running_bot(tmp_path / "guild_dbs", guilds=[GUILD]) as h:
        for _ in range(2):  # the hooks that run after the answer have run once by the second answer
            await h.command(GUILD, ADMIN, "server info", admin=True)
        first = len(generated)
        for _ in range(5):
            await h.command(GUILD, ADMIN, "server info", admin=True)
    assert first > 0  # the first run generates the resolvers of the command and its hooks
    assert len(generated) == first, generated[first:]
