"""The AniList double's catalogue: users with their lists, and media (a contract: docs/discord-double.md).

    {"users": [{"id", "name", "private", "lists": [{"mediaId", "status", "progress", "progressVolumes",
                                                     "score"}]}],
     "media": [{"id", "title": {"romaji", "english", "native"}, "chapters", "volumes", "genres", "status",
                "averageScore", "isAdult", "recommendations": [mediaId]}]}

A user's statistics are derived from their lists, as AniList derives them.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.errors import ConfigurationError

BUILTIN = Path(__file__).with_name("anilist_catalogue.json")
LIST_NAMES = {"CURRENT": "Reading", "PLANNING": "Planning", "COMPLETED": "Completed", "DROPPED": "Dropped",
              "PAUSED": "Paused", "REPEATING": "Rereading"}


@dataclass(frozen=True)
class CatalogueUser:
    id: int
    name: str
    private: bool = False
    lists: list[dict[str, Any]] = field(default_factory=list)


class Catalogue:
    """Users by id and name, media by id; answers in AniList's shapes."""

    def __init__(self, users: list[CatalogueUser], media: list[dict[str, Any]]) -> None:
        self.users = {u.id: u for u in users}
        self._by_exact_name = {u.name: u for u in users}
        self._by_name: dict[str, CatalogueUser] = {}
        for user in users:  # names differing only by case: an exact match wins, else the first listed
            self._by_name.setdefault(user.name.casefold(), user)
        self.media = {int(m["id"]): _media_payload(m) for m in media}
        self._recommended = {int(m["id"]): [int(r) for r in m.get("recommendations") or []] for m in media}

    @classmethod
    def builtin(cls) -> Catalogue:
        return cls.load(BUILTIN)

    @classmethod
    def load(cls, path: Path) -> Catalogue:
        """Read a catalogue file.

        Raises:
            ConfigurationError: the file is missing, not JSON, or not in the catalogue format.
        """
        try:
            raw = json.loads(path.read_text(encoding="utf-8-sig"))  # a BOM (Windows editors) is not JSON
        except OSError as e:
            raise ConfigurationError(f"Cannot read the AniList catalogue {path}: {e.strerror}.") from None
        except ValueError as e:
            raise ConfigurationError(f"The AniList catalogue {path} is not valid JSON ({e}).") from None
        return cls.from_dict(raw, source=str(path))

    @classmethod
    def from_dict(cls, raw: Any, *, source: str = "catalogue") -> Catalogue:
        """Check every entry against the format (AniList's types and ranges) and build the catalogue.

        Raises:
            ConfigurationError: an entry off the format, or a user or media id given twice (one sentence naming it).
        """
        try:
            top = _object(raw, "the file")
            users = [_user(u, f"users[{n}]") for n, u in enumerate(_list(top.get("users"), "users"))]
            media = [_media(m, f"media[{n}]") for n, m in enumerate(_list(top.get("media"), "media"))]
            _unique([u.id for u in users], "users", "id")
            _unique([u.name for u in users], "users", "name")  # names differing only by case are two users
            _unique([m["id"] for m in media], "media", "id")
        except _Invalid as e:
            raise ConfigurationError(f"The AniList catalogue {source} is not in the catalogue format: {e}.") from None
        return cls(users, media)

    def user_by_id(self, user_id: int | None) -> CatalogueUser | None:
        return self.users.get(user_id) if user_id is not None else None

    def user_by_name(self, name: str) -> CatalogueUser | None:
        return self._by_exact_name.get(name) or self._by_name.get(name.casefold())

    def search(self, text: str) -> list[dict[str, Any]]:
        """Media whose titles contain `text` (case-insensitive), exact matches first."""
        needle = text.casefold().strip()
        hits = [m for m in self.media.values()
                if any(needle in t.casefold() for t in _titles(m))]
        return sorted(hits, key=lambda m: (needle not in [t.casefold() for t in _titles(m)], m["id"]))

    def user_payload(self, user: CatalogueUser, *, with_stats: bool) -> dict[str, Any]:
        payload: dict[str, Any] = {"id": user.id, "name": user.name,
                                   "siteUrl": f"https://anilist.co/user/{user.name}"}
        if with_stats:
            payload["statistics"] = {"manga": self.stats(user)}
        return payload

    def stats(self, user: CatalogueUser) -> dict[str, Any]:
        """count, chaptersRead, volumesRead, meanScore and genres, from the user's (de-duplicated) lists."""
        entries = list({e["mediaId"]: e for e in user.lists}.values())
        scores = [float(e.get("score") or 0) for e in entries if e.get("score")]
        genres: Counter[str] = Counter(g for e in entries for g in self.media.get(e["mediaId"], {}).get("genres", []))
        return {"count": len(entries), "chaptersRead": sum(int(e.get("progress") or 0) for e in entries),
                "volumesRead": sum(int(e.get("progressVolumes") or 0) for e in entries),
                "meanScore": round(sum(scores) / len(scores), 1) if scores else 0,
                "genres": [{"genre": g, "count": n} for g, n in sorted(genres.items(), key=lambda i: (-i[1], i[0]))
                           ][:5]}

    def recommendations(self, media_id: int) -> dict[str, Any]:
        """`recommendations.nodes`, best rated first; an id missing from the catalogue is a deleted entry (null)."""
        ids = self._recommended.get(media_id, [])
        return {"nodes": [{"rating": 100 - 10 * rank, "mediaRecommendation": self.media.get(i)}
                          for rank, i in enumerate(ids)]}

    def list_collection(self, user: CatalogueUser, *, chunk: int = 1, per_chunk: int = 500) -> dict[str, Any]:
        """The user's list as `MediaListCollection` answers it: one chunk of `per_chunk` entries, grouped by status,
        `hasNextChunk` when more follow."""
        groups: dict[str, list[dict[str, Any]]] = {}
        start = (chunk - 1) * per_chunk
        numbered = list(enumerate(user.lists, start=1))
        for number, entry in numbered[start:start + per_chunk]:
            status = str(entry.get("status") or "CURRENT")
            groups.setdefault(status, []).append({
                "id": user.id * 1000 + number, "mediaId": entry["mediaId"], "status": status,
                "progress": entry.get("progress") or 0, "progressVolumes": entry.get("progressVolumes") or 0,
                "score": entry.get("score") or 0, "media": self.media.get(entry["mediaId"])})
        lists = [{"name": LIST_NAMES.get(s, s), "status": s, "isCustomList": False, "entries": e}
                 for s, e in groups.items()]
        return {"hasNextChunk": len(numbered) > start + per_chunk, "lists": lists}


def _titles(media: dict[str, Any]) -> list[str]:
    return [t for t in (media.get("title") or {}).values() if t]


def _media_payload(raw: dict[str, Any]) -> dict[str, Any]:
    title = raw.get("title") or {}
    return {"id": raw["id"], "title": {k: title.get(k) for k in ("romaji", "english", "native")},
            "chapters": raw.get("chapters"), "volumes": raw.get("volumes"), "genres": list(raw.get("genres") or []),
            "status": raw.get("status"), "siteUrl": f"https://anilist.co/manga/{raw['id']}",
            "averageScore": raw.get("averageScore"), "isAdult": bool(raw.get("isAdult", False))}


# -- the format, checked entry by entry (AniList's ids and counts are GraphQL Ints: 32-bit) ------------------
INT_MAX = 2**31 - 1


class _Invalid(ValueError):
    """An entry off the format; the message names it ("media[2].chapters must be ...")."""


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid(f"{where} must be a JSON object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Invalid(f"{where} must be a list or null")
    return value


def _whole(value: Any, where: str, *, low: int = 0, required: bool = False) -> int | None:
    """A JSON number (or digits in a string) that is whole and within AniList's Int range."""
    if isinstance(value, str) and value.strip().isdecimal():
        value = int(value)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= INT_MAX \
            or value != int(value):
        raise _Invalid(f"{where} must be a whole number from {low} to {INT_MAX}{'' if required else ' or null'}")
    return int(value)


def _real(value: Any, where: str, *, high: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= high:
        raise _Invalid(f"{where} must be a number from 0 to {high:g} or null")
    return value


def _text(value: Any, where: str, *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise _Invalid(f"{where} must be {'a non-empty string' if required else 'a string or null'}")
    return value


def _flag(value: Any, where: str) -> bool:
    if value is not None and not isinstance(value, bool):
        raise _Invalid(f"{where} must be true, false or null")
    return bool(value)


def _unique(values: list[Any], where: str, key: str) -> None:
    seen: set[Any] = set()
    for n, value in enumerate(values):
        if value in seen:
            raise _Invalid(f"{where}[{n}].{key} {json.dumps(value, ensure_ascii=False)} is given twice "
                           f"(each {key} is unique)")
        seen.add(value)


def _user(raw: Any, where: str) -> CatalogueUser:
    user = _object(raw, where)
    lists = [_entry(e, f"{where}.lists[{n}]") for n, e in enumerate(_list(user.get("lists"), f"{where}.lists"))]
    return CatalogueUser(_whole(user.get("id"), f"{where}.id", low=1, required=True) or 0,
                         _text(user.get("name"), f"{where}.name", required=True) or "",
                         _flag(user.get("private"), f"{where}.private"), lists)


def _entry(raw: Any, where: str) -> dict[str, Any]:
    entry = _object(raw, where)
    status = entry.get("status")
    if isinstance(status, str):  # AniList's enum is upper case; "current" in a hand-written catalogue means CURRENT
        status = status.strip().upper()
    if status is not None and status not in LIST_NAMES:
        raise _Invalid(f"{where}.status must be one of {', '.join(LIST_NAMES)} or null")
    return {"mediaId": _whole(entry.get("mediaId"), f"{where}.mediaId", low=1, required=True), "status": status,
            "progress": _whole(entry.get("progress"), f"{where}.progress"),
            "progressVolumes": _whole(entry.get("progressVolumes"), f"{where}.progressVolumes"),
            "score": _real(entry.get("score"), f"{where}.score", high=100)}


def _media(raw: Any, where: str) -> dict[str, Any]:
    media = _object(raw, where)
    title = media.get("title")
    titles = {} if title is None else _object(title, f"{where}.title")
    score = _real(media.get("averageScore"), f"{where}.averageScore", high=100)
    return {"id": _whole(media.get("id"), f"{where}.id", low=1, required=True),
            "title": {k: _text(titles.get(k), f"{where}.title.{k}") for k in ("romaji", "english", "native")},
            "chapters": _whole(media.get("chapters"), f"{where}.chapters"),
            "volumes": _whole(media.get("volumes"), f"{where}.volumes"),
            "genres": [_text(g, f"{where}.genres[{n}]", required=True)
                       for n, g in enumerate(_list(media.get("genres"), f"{where}.genres"))],
            "status": _text(media.get("status"), f"{where}.status"),
            "averageScore": None if score is None else round(score),  # an Int on AniList
            "isAdult": _flag(media.get("isAdult"), f"{where}.isAdult"),
            "recommendations": [_whole(r, f"{where}.recommendations[{n}]", low=1, required=True)
                                for n, r in enumerate(_list(media.get("recommendations"),
                                                            f"{where}.recommendations"))]}
