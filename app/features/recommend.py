"""`/recommend`: manga for a member from this server's readers and AniList, shaped by their 👍/👎.

Two sources. Readers *here* whose lists overlap the member's (a neighbour's weight is 1, plus one for
each manga the member 👍'd that the neighbour rated `HIGH_SCORE`+, minus one for each 👎'd one, never
below 0) vote for what they rated `HIGH_SCORE`+; AniList's recommendations for the member's finished
manga add `ANILIST_WEIGHT` each. A member who linked AniList (in this server) brings their AniList list:
its finished manga are seeds too, and whatever is on it counts as theirs. Never suggested: a manga the
member has, or one they rated already. Everything about members is read from this server's file only
(`recommendations`, `..._feedback`), and the linked account's public list from AniList.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from app.db import GuildDb
from app.errors import NotFoundError, PermissionDeniedError
from app.features.text import shown
from app.services.anilist_models import ListEntry, Media

HIGH_SCORE = 80  # of 100
ANILIST_WEIGHT = 0.5
MAX_SUGGESTIONS = 5  # one row of 👍/👎 each, and Discord allows five rows
MAX_FINISHED_ASKED = 3  # AniList requests per /recommend (the client is paced at 30 a minute)
NOT_YOURS = "Only the member who asked for these suggestions can rate them; run /recommend yourself."

AniListSource = Callable[[int], Awaitable[list[Media]]]
ListSource = Callable[[int], Awaitable[list[ListEntry]]]  # an AniList account's list ([] when it cannot be read)


@dataclass(frozen=True, slots=True)
class Reader:
    """What /recommend needs to know about the member asking."""

    user_id: int
    has: dict[int, str]  # manga id → title
    finished: list[tuple[int, str]]  # best scored first
    liked: set[int]
    disliked: set[int]
    anilist_id: int | None = None  # the account linked in this server
    scores: dict[int, float] = field(default_factory=dict)  # finished manga → score out of 100

    def with_list(self, entries: list[ListEntry]) -> Reader:
        """The member with their AniList list: its manga are theirs, its finished ones seeds (best scored first;
        this server's record of a manga wins; an adult one is never a seed)."""
        has, scores, titles = dict(self.has), dict(self.scores), dict(self.finished)
        for entry in entries:
            has.setdefault(entry.media_id, entry.title)
            titles.setdefault(entry.media_id, entry.title)
            if entry.status == "COMPLETED" and not entry.adult:  # an adult seed would be named in a reason
                scores.setdefault(entry.media_id, entry.score)
        finished = sorted(scores, key=lambda manga_id: -scores[manga_id])  # ties: this server's first
        return Reader(self.user_id, has, [(m, titles[m]) for m in finished], self.liked, self.disliked,
                      self.anilist_id, scores)


@dataclass(slots=True)
class Candidate:
    manga_id: int
    title: str
    score: float = 0.0
    readers: set[int] = field(default_factory=set)
    via_local: Counter[int] = field(default_factory=Counter)  # the member's manga shared with supporters
    via_anilist: str | None = None

    def reason(self, reader: Reader) -> str:
        if self.readers:
            shared = reader.has[self.via_local.most_common(1)[0][0]]
            who = "1 reader here who also read" if len(self.readers) == 1 else \
                f"{len(self.readers)} readers here who also read"
            return f"{who} {shown(shared, 60)} rated it {HIGH_SCORE}+"
        return f"AniList readers who finished {shown(self.via_anilist or '', 60)} recommend it"


@dataclass(frozen=True, slots=True)
class Suggestion:
    recommendation_id: int
    manga_id: int
    title: str
    reason: str

    def line(self, number: int) -> str:
        return f"**{number}. {shown(self.title, 80)}** — {self.reason}"


async def fetch_reader(db: GuildDb, user_id: int) -> Reader:
    rows = await db.execute_fetchall("SELECT manga_id, title, status, score FROM user_manga_progress "
                                     "WHERE discord_id = ? ORDER BY score DESC, updated_at DESC", (user_id,))
    votes = await db.execute_fetchall(
        "SELECT r.manga_id, f.vote FROM recommendation_feedback f JOIN recommendations r ON r.id = "
        "f.recommendation_id WHERE f.discord_id = ?", (user_id,))
    linked = await db.execute_fetchone("SELECT anilist_id FROM users WHERE discord_id = ?", (user_id,))
    has = {int(r["manga_id"]): str(r["title"] or f"AniList #{r['manga_id']}") for r in rows}
    finished = [(int(r["manga_id"]), has[int(r["manga_id"])]) for r in rows if r["status"] == "COMPLETED"]
    scores = {int(r["manga_id"]): _out_of_100(r["score"]) for r in rows if r["status"] == "COMPLETED"}
    anilist_id = int(linked[0]) if linked is not None and linked[0] is not None else None
    return Reader(user_id, has, finished, {int(v[0]) for v in votes if v[1] > 0},
                  {int(v[0]) for v in votes if v[1] < 0}, anilist_id, scores)


async def local_candidates(db: GuildDb, reader: Reader) -> dict[int, Candidate]:
    """What this server's readers with overlapping lists rated highly (this server's file only)."""
    rows = await db.execute_fetchall(
        "SELECT o.discord_id, o.manga_id, o.title, o.score, o.manga_id IN (SELECT manga_id FROM user_manga_progress "
        "WHERE discord_id = :me) AS shared FROM user_manga_progress o WHERE o.discord_id != :me AND o.discord_id IN "
        "(SELECT n.discord_id FROM user_manga_progress n JOIN user_manga_progress m ON m.manga_id = n.manga_id "
        "AND m.discord_id = :me)", {"me": reader.user_id})
    shared: dict[int, set[int]] = defaultdict(set)
    rated: dict[int, set[int]] = defaultdict(set)
    for r in rows:
        if r["shared"]:
            shared[int(r["discord_id"])].add(int(r["manga_id"]))
        if _out_of_100(r["score"]) >= HIGH_SCORE:
            rated[int(r["discord_id"])].add(int(r["manga_id"]))
    titles = {int(r["manga_id"]): str(r["title"] or f"AniList #{r['manga_id']}") for r in rows}
    found: dict[int, Candidate] = {}
    for neighbour, overlap in shared.items():
        weight = max(0, 1 + len(rated[neighbour] & reader.liked) - len(rated[neighbour] & reader.disliked))
        for manga_id in rated[neighbour]:
            if weight and _new_to(reader, manga_id):
                candidate = found.setdefault(manga_id, Candidate(manga_id, titles[manga_id]))
                candidate.score += weight
                candidate.readers.add(neighbour)
                candidate.via_local.update(overlap)
    return found


async def anilist_candidates(reader: Reader, source: AniListSource) -> dict[int, Candidate]:
    """AniList's recommendations for the member's best scored finished manga (no adult titles)."""
    found: dict[int, Candidate] = {}
    for manga_id, title in reader.finished[:MAX_FINISHED_ASKED]:
        for media in await source(manga_id):
            if not media.is_adult and _new_to(reader, media.id):
                candidate = found.setdefault(media.id, Candidate(media.id, media.title, via_anilist=title))
                candidate.score += ANILIST_WEIGHT
    return found


def rank(reader: Reader, local: dict[int, Candidate], remote: dict[int, Candidate]) -> list[tuple[Candidate, str]]:
    """Both sources merged, best first, each with its one-line reason."""
    merged = dict(remote)
    for manga_id, candidate in local.items():
        if manga_id in merged:
            candidate.score += merged[manga_id].score
        merged[manga_id] = candidate
    best = sorted(merged.values(), key=lambda c: (-c.score, c.title.casefold(), c.manga_id))[:MAX_SUGGESTIONS]
    return [(c, c.reason(reader)) for c in best]


async def store_suggestions(db: GuildDb, user_id: int, ranked: list[tuple[Candidate, str]]) -> list[Suggestion]:
    """Keep what was suggested (the buttons refer to these rows)."""
    made = []
    async with db.transaction():
        for candidate, reason in ranked:
            cur = await db.execute("INSERT INTO recommendations (discord_id, manga_id, reason) VALUES (?, ?, ?)",
                                   (user_id, candidate.manga_id, reason))
            made.append(Suggestion(int(cur.lastrowid or 0), candidate.manga_id, candidate.title, reason))
    return made


async def recommend(open_db: Callable[[], Awaitable[GuildDb]], release: Callable[[], Awaitable[None]],
                    source: AniListSource, user_id: int, their_list: ListSource | None = None) -> list[Suggestion]:
    """Suggestions for the member; the server's file is not held while AniList answers."""
    db = await open_db()
    reader = await fetch_reader(db, user_id)
    local = await local_candidates(db, reader)
    await release()
    if reader.anilist_id is not None and their_list is not None:
        reader = reader.with_list(await their_list(reader.anilist_id))
        local = {manga_id: c for manga_id, c in local.items() if _new_to(reader, manga_id)}
    remote = await anilist_candidates(reader, source)
    return await store_suggestions(await open_db(), user_id, rank(reader, local, remote))


async def record_vote(db: GuildDb, recommendation_id: int, user_id: int, vote: int) -> None:
    """A 👍 (+1) or 👎 (-1) on one suggestion (a second press replaces the first).

    Raises:
        NotFoundError: no such suggestion in this server.
        PermissionDeniedError: the suggestion was made for another member.
    """
    row = await db.execute_fetchone("SELECT discord_id FROM recommendations WHERE id = ?",
                                    (recommendation_id,))
    if row is None:
        raise NotFoundError("That suggestion is no longer kept here; run /recommend again.")
    if int(row["discord_id"]) != user_id:
        raise PermissionDeniedError(NOT_YOURS)
    async with db.transaction():
        await db.execute("INSERT INTO recommendation_feedback (recommendation_id, discord_id, vote) VALUES (?, ?, ?) "
                         "ON CONFLICT DO UPDATE SET vote = excluded.vote", (recommendation_id, user_id, vote))


def _out_of_100(score: float | None) -> float:
    """Scores are out of 100 here; the legacy bot kept them out of 10 (1.0–10.0)."""
    if not score:
        return 0.0
    return score * 10 if score <= 10 else score


def _new_to(reader: Reader, manga_id: int) -> bool:
    return manga_id not in reader.has and manga_id not in reader.liked and manga_id not in reader.disliked
