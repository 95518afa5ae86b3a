"""Attribution rules (no Discord): one invite, risen by exactly the joins seen, nothing vanished — or unknown."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.features import invite_snapshot as s
from app.features.invites import account_created_at, is_fake

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def snap(*invites: s.InviteCount) -> s.Snapshot:
    return {i.code: i for i in invites}


A0, B0 = s.InviteCount("a", 1, 0), s.InviteCount("b", 2, 3)


@pytest.mark.parametrize(("before", "after", "joins", "expected"), [
    (snap(A0, B0), snap(s.InviteCount("a", 1, 1), B0), 1, "a"),
    (snap(A0, B0), snap(s.InviteCount("a", 1, 3), B0), 3, "a"),  # a raid batch through one invite
    (snap(A0), snap(A0, s.InviteCount("new", 5, 1)), 1, "new"),  # created and used before INVITE_CREATE
    (snap(A0, s.InviteCount("old", 2, 0, expires_at=NOW - timedelta(1))), snap(s.InviteCount("a", 1, 1)), 1, "a"),
])
def test_exactly_one_invite_risen_by_the_joins_is_credited(before: s.Snapshot, after: s.Snapshot, joins: int,
                                                          expected: str) -> None:
    verdict = s.attribute(before, after, joins, NOW)
    assert verdict.invite is not None and verdict.invite.code == expected


@pytest.mark.parametrize(("before", "after", "joins", "reason"), [
    (None, snap(A0), 1, s.NO_SNAPSHOT),
    (snap(A0, B0), snap(A0, B0), 1, s.NONE_ROSE),  # the vanity URL
    (snap(A0, B0), snap(s.InviteCount("a", 1, 1), s.InviteCount("b", 2, 4)), 1, s.SEVERAL_ROSE),
    (snap(A0, B0), snap(s.InviteCount("a", 1, 2), B0), 1, s.MISMATCH),
    (snap(A0, s.InviteCount("once", 3, 0, max_uses=1)), snap(A0), 1, s.VANISHED),
    (snap(A0, s.InviteCount("once", 3, 0, max_uses=1)), snap(s.InviteCount("a", 1, 1)), 1, s.VANISHED),
])
def test_every_doubt_is_unknown(before: s.Snapshot | None, after: s.Snapshot, joins: int, reason: str) -> None:
    assert s.attribute(before, after, joins, NOW) == s.Verdict(None, reason)


def test_fake_is_a_young_account_or_a_self_invite() -> None:
    old = 900_000_000_000_000_010
    created = account_created_at(old)
    assert created.year == 2021
    assert not is_fake(old, 5, created + timedelta(days=8), 7)
    assert is_fake(old, 5, created + timedelta(days=6), 7)
    assert is_fake(old, old, created + timedelta(days=800), 7)
    assert not is_fake(old, 5, created, 0)
