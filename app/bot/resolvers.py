"""Dependency resolvers generated once per command, not at every invocation.

linkd (lightbulb's dependency injection, 0.6.5 pinned in constraints.txt) generates a callable's resolver
(`exec` of generated source) at its first call, and caches it on the object it was called on. A command's
`invoke` is called through the bound copy `AutoInjecting.__get__` makes for each command instance, and
lightbulb makes a new instance per interaction: the cache was never hit, and generating resolvers took
about a tenth of the bot's CPU under load (py-spy on scripts/bench_e2e.py's bot). Generating it on the
class-level object before the copy is made lets every copy share it (the resolver takes the bound
instance as an argument, so one serves all). Guarded by tests/bot/test_di_codegen.py.
"""
from __future__ import annotations

from typing import Any

from linkd.solver import AutoInjecting

_bound_copy = AutoInjecting.__get__


def _generate_then_bind(self: AutoInjecting, instance: Any, owner: type[Any]) -> AutoInjecting:
    if instance is not None and self._dependency_func is None:
        self._dependency_func = self._codegen_dependency_func()
    return _bound_copy(self, instance, owner)


def generate_resolvers_once() -> None:
    """Install the sharing (idempotent); the bot does it before loading its extensions."""
    AutoInjecting.__get__ = _generate_then_bind  # type: ignore[method-assign,assignment]
