"""Shard blocks: which guilds one process serves, and where guild files go when the shard count changes.

Discord puts every guild on exactly one shard, `(guild_id >> 22) % shard_count`. Each process
serves a fixed block of shard ids, so processes own disjoint guild files: the manager refuses any
guild outside its block, and a routing bug can never open one file from two processes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from app.db.ids import validate_guild_id
from app.errors import ConfigurationError, WrongShardError

MAX_SHARDS = 65_536
_RANGE = re.compile(r"([0-9]{1,5})-([0-9]{1,5})")
_NUMBER = re.compile(r"[0-9]{1,5}")


def shard_of(guild_id: int, shard_count: int) -> int:
    """Discord's shard for the guild."""
    return (guild_id >> 22) % shard_count


def parse_shard_ids(raw: str) -> tuple[int, ...]:
    """`0-3`, `0,1,2,3` or a mix (`0-1,4`): sorted, without duplicates.

    Raises:
        ConfigurationError: not a list of shard ids or ranges.
    """
    ids: set[int] = set()
    for part in (p.strip() for p in raw.split(",")):
        if (m := _RANGE.fullmatch(part)) is not None and int(m[1]) <= int(m[2]):
            ids.update(range(int(m[1]), int(m[2]) + 1))
        elif _NUMBER.fullmatch(part):
            ids.add(int(part))
        else:
            raise ConfigurationError(f"SHARD_IDS must look like 0-3 or 0,1,2,3, not {raw[:40]!r}.")
    return tuple(sorted(ids))


def describe(shard_ids: tuple[int, ...] | frozenset[int]) -> str:
    """`0-3,6`: the ids as ranges."""
    ids, parts = sorted(shard_ids), []
    start = prev = ids[0] if ids else 0
    for i in [*ids[1:], None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if i is not None:
            start = prev = i
    return ",".join(parts) if ids else ""


@dataclass(frozen=True, slots=True)
class ShardBlock:
    """The shards one process serves, out of `shard_count`."""

    shard_ids: frozenset[int]
    shard_count: int

    def __post_init__(self) -> None:
        if not self.shard_ids or not 1 <= self.shard_count <= MAX_SHARDS:
            raise ConfigurationError("A shard block needs at least one shard id and SHARD_COUNT >= 1.")
        if max(self.shard_ids) >= self.shard_count:
            raise ConfigurationError(f"SHARD_IDS {describe(self.shard_ids)} must all be below "
                                     f"SHARD_COUNT {self.shard_count}.")

    def owns(self, guild_id: int) -> bool:
        return shard_of(guild_id, self.shard_count) in self.shard_ids

    def check(self, guild_id: int) -> None:
        """Raises:
            WrongShardError: the guild is on a shard this process does not serve.
        """
        guild_id = validate_guild_id(guild_id)
        if not self.owns(guild_id):
            raise WrongShardError(
                f"guild {guild_id} is on shard {shard_of(guild_id, self.shard_count)} of {self.shard_count}, "
                f"not in this process's block (SHARD_IDS {describe(self.shard_ids)}); its file belongs "
                "to the process that serves that shard")

    def __str__(self) -> str:
        return f"shards {describe(self.shard_ids)} of {self.shard_count}"


def owned(block: ShardBlock | None, guild_ids: list[int]) -> list[int]:
    """The guilds of `guild_ids` this process serves (all of them without a block)."""
    return list(guild_ids) if block is None else [g for g in guild_ids if block.owns(g)]


def block_ranges(shard_count: int, blocks: int) -> list[range]:
    """`blocks` contiguous, near-equal ranges of shard ids (the usual way to split shards over processes)."""
    if not 1 <= blocks <= shard_count:
        raise ConfigurationError(f"--blocks must be between 1 and the shard count ({shard_count}).")
    return [range(k * shard_count // blocks, (k + 1) * shard_count // blocks) for k in range(blocks)]


@dataclass(frozen=True, slots=True)
class Move:
    guild_id: int
    old_shard: int
    new_shard: int
    old_block: int
    new_block: int

    @property
    def moves(self) -> bool:
        return self.old_block != self.new_block


def plan_moves(guild_ids: list[int], *, old_count: int, new_count: int, blocks: int) -> list[Move]:
    """Where each guild file goes when `blocks` processes go from `old_count` to `new_count` shards."""
    old, new = block_ranges(old_count, blocks), block_ranges(new_count, blocks)

    def block_of(shard: int, ranges: list[range]) -> int:
        return next(k for k, r in enumerate(ranges) if shard in r)

    plan = []
    for guild_id in sorted(guild_ids):
        a, b = shard_of(guild_id, old_count), shard_of(guild_id, new_count)
        plan.append(Move(guild_id, a, b, block_of(a, old), block_of(b, new)))
    return plan
