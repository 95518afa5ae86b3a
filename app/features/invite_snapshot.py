"""Which invite a batch of joins used: the one whose use count rose, or nothing when that is not certain.

Discord never says which invite a member used, nor pushes use counts: the tracker compares the counts
it saw before the joins with a fresh list. It attributes only when exactly one invite rose, by exactly
the number of joins, and no invite vanished meanwhile (a single-use invite is deleted when used, in
either order with the join). Everything else is "unknown": never a guess.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

NO_SNAPSHOT = "the bot had no count of the invites from before this join (it was starting, or lacked access)"
NO_PERMISSION = "the bot lacks Manage Server, so it cannot read invite use counts"
UNREADABLE = "Discord did not return the invite list"
VANISHED = "an invite disappeared meanwhile (a single-use invite is deleted when used)"
NONE_ROSE = "no invite's count rose (the vanity URL, a widget, or an invite removed just before)"
SEVERAL_ROSE = "several invites' counts rose at once"
MISMATCH = "the counts rose by a different number than the joins seen"


@dataclass(frozen=True, slots=True)
class InviteCount:
    """One invite as the tracker remembers it."""

    code: str
    inviter_id: int | None  # None: the server widget or a system invite
    uses: int
    max_uses: int = 0  # 0: unlimited
    expires_at: datetime | None = None


Snapshot = dict[str, InviteCount]


@dataclass(frozen=True, slots=True)
class Verdict:
    """The invite a batch of joins used, or None with the reason it cannot be told."""

    invite: InviteCount | None
    reason: str = ""


def attribute(before: Snapshot | None, after: Snapshot, joins: int, now: datetime) -> Verdict:
    """The invite `joins` members used between `before` and `after` (a count missing before was 0)."""
    if before is None:
        return Verdict(None, NO_SNAPSHOT)
    vanished = [i for code, i in before.items() if code not in after and not _expired(i, now)]
    if vanished:
        return Verdict(None, VANISHED)
    rises = {code: i.uses - (before[code].uses if code in before else 0) for code, i in after.items()}
    risen = [code for code, rise in rises.items() if rise > 0]
    if not risen:
        return Verdict(None, NONE_ROSE)
    if len(risen) > 1:
        return Verdict(None, SEVERAL_ROSE)
    if rises[risen[0]] != joins:
        return Verdict(None, MISMATCH)
    return Verdict(after[risen[0]])


def _expired(invite: InviteCount, now: datetime) -> bool:
    """Discord sends no INVITE_DELETE when an invite expires: its disappearance says nothing."""
    return invite.expires_at is not None and invite.expires_at <= now
