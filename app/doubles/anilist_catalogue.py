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
        self._by_name = {u.name.casefold(): u for u in users}
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
        try:
            users = [CatalogueUser(int(u["id"]), str(u["name"]), bool(u.get("private", False)),
                                   [dict(e, mediaId=int(e["mediaId"])) for e in u.get("lists") or []])
                     for u in raw.get("users") or []]
            media = [dict(m, id=int(m["id"])) for m in raw.get("media") or []]
        except (AttributeError, KeyError, TypeError, ValueError) as e:
            raise ConfigurationError(f"The AniList catalogue {source} is not in the catalogue format "
                                     f"(users need id and name, list entries a mediaId, media an id): {e!r}."
                                     ) from None
        return cls(users, media)

    def user_by_id(self, user_id: int | None) -> CatalogueUser | None:
        return self.users.get(user_id) if user_id is not None else None

    def user_by_name(self, name: str) -> CatalogueUser | None:
        return self._by_name.get(name.casefold())

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

    def list_collection(self, user: CatalogueUser) -> dict[str, Any]:
        groups: dict[str, list[dict[str, Any]]] = {}
        for number, entry in enumerate(user.lists, start=1):
            status = str(entry.get("status") or "CURRENT")
            groups.setdefault(status, []).append({
                "id": user.id * 1000 + number, "mediaId": entry["mediaId"], "status": status,
                "progress": entry.get("progress") or 0, "progressVolumes": entry.get("progressVolumes") or 0,
                "score": entry.get("score") or 0, "media": self.media.get(entry["mediaId"])})
        lists = [{"name": LIST_NAMES.get(s, s), "status": s, "isCustomList": False, "entries": e}
                 for s, e in groups.items()]
        return {"hasNextChunk": False, "lists": lists}


def _titles(media: dict[str, Any]) -> list[str]:
    return [t for t in (media.get("title") or {}).values() if t]


def _media_payload(raw: dict[str, Any]) -> dict[str, Any]:
    title = raw.get("title") or {}
    return {"id": raw["id"], "title": {k: title.get(k) for k in ("romaji", "english", "native")},
            "chapters": raw.get("chapters"), "volumes": raw.get("volumes"), "genres": list(raw.get("genres") or []),
            "status": raw.get("status"), "siteUrl": f"https://anilist.co/manga/{raw['id']}",
            "averageScore": raw.get("averageScore"), "isAdult": bool(raw.get("isAdult", False))}
