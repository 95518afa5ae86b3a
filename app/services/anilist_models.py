"""What the bot reads from AniList, as typed values, and the GraphQL queries that fetch them.

Queries follow ../shared/reference/anilist.md §2; every nullable field of the reference stays nullable.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MEDIA_FIELDS = "id title { romaji english native } chapters volumes genres status averageScore isAdult"

USER_QUERY = """query ($name: String) {
  User(name: $name) { id name siteUrl }
}"""

USER_STATS_QUERY = """query ($id: Int) {
  User(id: $id) {
    id name siteUrl
    statistics { manga { count chaptersRead volumesRead meanScore genres(limit: 5, sort: COUNT_DESC) { genre count } } }
  }
}"""

SEARCH_QUERY = f"""query ($search: String, $perPage: Int = 10) {{
  Page(perPage: $perPage) {{
    pageInfo {{ hasNextPage }}
    media(search: $search, type: MANGA) {{ {MEDIA_FIELDS} }}
  }}
}}"""

MEDIA_QUERY = f"""query ($id: Int) {{
  Media(id: $id, type: MANGA) {{ {MEDIA_FIELDS} }}
}}"""


RECOMMENDATIONS_QUERY = f"""query ($id: Int) {{
  Media(id: $id, type: MANGA) {{
    id
    recommendations(sort: RATING_DESC, perPage: 10) {{ nodes {{ rating mediaRecommendation {{ {MEDIA_FIELDS} }} }} }}
  }}
}}"""


@dataclass(frozen=True, slots=True)
class Media:
    """A manga as AniList describes it (public data, cached bot-wide)."""

    id: int
    romaji: str | None = None
    english: str | None = None
    native: str | None = None
    chapters: int | None = None  # None while releasing (or unknown; a count of 0 is read as unknown)
    volumes: int | None = None
    genres: tuple[str, ...] = ()
    status: str | None = None
    average_score: int | None = None
    is_adult: bool = False

    @property
    def title(self) -> str:
        """The title a member most likely recognises (blank titles count as missing)."""
        return self.english or self.romaji or self.native or f"AniList #{self.id}"

    def titles(self) -> list[str]:
        return [t for t in (self.english, self.romaji, self.native) if t]

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> Media:
        title = raw.get("title") or {}
        return cls(id=int(raw["id"]), romaji=_opt_text(title.get("romaji")), english=_opt_text(title.get("english")),
                   native=_opt_text(title.get("native")), chapters=_opt_int(raw.get("chapters")) or None,
                   volumes=_opt_int(raw.get("volumes")) or None, genres=tuple(g for g in raw.get("genres") or () if g),
                   status=raw.get("status"), average_score=_opt_int(raw.get("averageScore")),
                   is_adult=bool(raw.get("isAdult")))

# A user's manga list (reference §2c); scores asked out of 100 whatever the owner's own format. Of each manga only
# what /recommend uses: a list runs to thousands of entries (AniList returns up to 11,000)
LIST_MEDIA_FIELDS = "id title { romaji english native } isAdult"
LIST_QUERY = f"""query ($userId: Int, $chunk: Int = 1) {{
  MediaListCollection(userId: $userId, type: MANGA, chunk: $chunk, perChunk: 500) {{
    hasNextChunk
    lists {{ isCustomList entries {{ mediaId status score(format: POINT_100) media {{ {LIST_MEDIA_FIELDS} }} }} }}
  }}
}}"""


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One manga on a user's AniList list."""

    media_id: int
    status: str  # CURRENT PLANNING COMPLETED DROPPED PAUSED REPEATING
    score: float  # out of 100; 0: unscored
    title: str
    adult: bool = False  # AniList's isAdult: the member's, but never named nor a seed of suggestions

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> ListEntry:
        media = raw.get("media")
        media_id = int(raw["mediaId"])
        found = Media.from_api(media) if media else None
        title = found.title if found else f"AniList #{media_id}"
        return cls(media_id, str(raw.get("status") or ""), float(raw.get("score") or 0), title,
                   bool(found and found.is_adult))


@dataclass(frozen=True, slots=True)
class AniListUser:
    """A public AniList account."""

    id: int
    name: str
    site_url: str | None = None


@dataclass(frozen=True, slots=True)
class MangaStats:
    """A user's manga statistics as AniList computes them."""

    count: int
    chapters_read: int
    volumes_read: int
    mean_score: float
    genres: tuple[str, ...]

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> MangaStats:
        manga = ((raw.get("statistics") or {}).get("manga")) or {}
        genres = tuple(str(g["genre"]) for g in manga.get("genres") or () if g and g.get("genre"))
        return cls(count=int(manga.get("count") or 0), chapters_read=int(manga.get("chaptersRead") or 0),
                   volumes_read=int(manga.get("volumesRead") or 0), mean_score=float(manga.get("meanScore") or 0),
                   genres=genres)


def _opt_text(value: Any) -> str | None:
    """A title as shown, or None when AniList has none ("" and blank native titles occur)."""
    text = "" if value is None else str(value).strip()
    return text or None


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)
