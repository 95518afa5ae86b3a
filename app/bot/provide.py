"""One way for a feature extension to make its service injectable by type."""
from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

import lightbulb

T = TypeVar("T")


class Provide(lightbulb.Loadable, Generic[T]):
    """`loader.add(Provide(Service, factory, teardown=Service.close))`: one per client, torn down with it."""

    def __init__(self, kind: type[T], factory: Callable[..., Any],
                 *, teardown: Callable[[T], Coroutine[Any, Any, None]] | None = None) -> None:
        self._kind = kind
        self._factory = factory
        self._teardown = teardown

    async def load(self, client: lightbulb.Client) -> None:
        registry = client.di.registry_for(lightbulb.di.Contexts.DEFAULT)
        if self._kind not in registry:  # loading is idempotent (lightbulb's contract)
            registry.register_factory(self._kind, self._factory, teardown=self._teardown)

    async def unload(self, client: lightbulb.Client) -> None:
        """Nothing: the service lives as long as the client's default container."""
