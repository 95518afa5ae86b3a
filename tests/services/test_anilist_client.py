"""The AniList client against the AniList double on 127.0.0.1: each failure mode becomes one sentence."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from app.doubles.anilist import AniListDouble
from app.doubles.anilist_catalogue import Catalogue
from app.errors import ConfigurationError, ServiceUnavailableError
from app.services.anilist import DOWN, SLOW, UNREACHABLE, AniListClient


class FakeTime:
    """A clock that only moves when the client sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest_asyncio.fixture
async def anilist() -> AsyncIterator[AniListDouble]:
    async with AniListDouble() as double:
        yield double


def client_for(double: AniListDouble, fake: FakeTime | None = None, **kwargs: float) -> AniListClient:
    fake = fake or FakeTime()
    opts: dict[str, float] = {"rate_per_min": 6000, "timeout": 2.0}
    opts.update(kwargs)
    return AniListClient(double.url, rate_per_min=int(opts["rate_per_min"]), timeout=opts["timeout"],
                         clock=fake.clock, sleep=fake.sleep, wall=lambda: fake.now)


@pytest.mark.asyncio
async def test_public_user_is_found_by_name_case_insensitively(anilist: AniListDouble) -> None:
    user = await client_for(anilist).fetch_user("shelftester")

    assert user is not None
    assert (user.id, user.name) == (100001, "ShelfTester")


@pytest.mark.asyncio
@pytest.mark.parametrize("name", ["NoSuchPerson", "QuietReader", "'; DROP TABLE users; --", "\u202eevil\u0000"])
async def test_unknown_or_private_user_is_none(anilist: AniListDouble, name: str) -> None:
    assert await client_for(anilist).fetch_user(name) is None


@pytest.mark.asyncio
async def test_stats_are_derived_from_the_users_lists(anilist: AniListDouble) -> None:
    stats = await client_for(anilist).fetch_manga_stats(100001)

    assert stats is not None
    assert (stats.count, stats.chapters_read, stats.volumes_read, stats.mean_score) == (3, 1572, 157, 90.0)
    assert stats.genres[:3] == ("Action", "Drama", "Fantasy")


@pytest.mark.asyncio
async def test_user_without_manga_has_zero_stats(anilist: AniListDouble) -> None:
    stats = await client_for(anilist).fetch_manga_stats(100003)

    assert stats is not None
    assert (stats.count, stats.chapters_read, stats.mean_score, stats.genres) == (0, 0, 0.0, ())


@pytest.mark.asyncio
async def test_search_and_media_with_null_fields(anilist: AniListDouble) -> None:
    client = client_for(anilist)
    found = await client.search_manga("steel ball")
    nothing = await client.search_manga("zzzz no such manga")
    missing = await client.fetch_media(999_999)
    one_piece = await client.fetch_media(30013)

    assert [m.id for m in found] == [31706]
    assert found[0].title == "JoJo no Kimyou na Bouken: Steel Ball Run"  # english and native are null
    assert nothing == []
    assert missing is None
    assert one_piece is not None and one_piece.chapters is None and one_piece.status == "RELEASING"


@pytest.mark.asyncio
async def test_requests_are_paced_at_the_configured_rate() -> None:
    fake = FakeTime()
    async with AniListDouble() as double:
        client = client_for(double, fake, rate_per_min=30)
        for _ in range(3):
            await client.fetch_media(30013)

    assert fake.slept == [2.0, 2.0]
    assert len(double.requests) == 3


@pytest.mark.asyncio
async def test_a_queue_longer_than_the_wait_budget_is_refused_without_a_request(anilist: AniListDouble) -> None:
    client = client_for(anilist, rate_per_min=1)
    await client.fetch_media(30013)
    with pytest.raises(ServiceUnavailableError) as caught:
        await client.fetch_media(30013)

    assert caught.value.user_message == "AniList is busy; please try again in 60 seconds."
    assert len(anilist.requests) == 1


@pytest.mark.asyncio
async def test_429_retry_after_is_waited_out_before_the_next_request(anilist: AniListDouble) -> None:
    fake = FakeTime()
    client = client_for(anilist, fake)
    anilist.fail("429", retry_after=7)
    with pytest.raises(ServiceUnavailableError) as first:
        await client.fetch_user("ShelfTester")
    anilist.fail(None)
    user = await client.fetch_user("ShelfTester")

    assert first.value.user_message == "AniList is busy; please try again in 7 seconds."
    assert fake.slept == [7.0]
    assert user is not None and len(anilist.requests) == 2


@pytest.mark.asyncio
async def test_a_ban_longer_than_the_wait_budget_refuses_without_a_request(anilist: AniListDouble) -> None:
    client = client_for(anilist)
    anilist.fail("429", retry_after=45)
    with pytest.raises(ServiceUnavailableError):
        await client.fetch_user("ShelfTester")
    anilist.fail(None)
    with pytest.raises(ServiceUnavailableError) as second:
        await client.fetch_user("ShelfTester")

    assert second.value.user_message == "AniList is busy; please try again in 45 seconds."
    assert len(anilist.requests) == 1


@pytest.mark.asyncio
async def test_429_without_retry_after_waits_a_minute(anilist: AniListDouble) -> None:
    anilist.fail("429", retry_after=None)
    with pytest.raises(ServiceUnavailableError) as caught:
        await client_for(anilist).fetch_user("ShelfTester")

    assert caught.value.user_message == "AniList is busy; please try again in 60 seconds."


@pytest.mark.asyncio
async def test_the_doubles_real_limit_bans_for_a_minute() -> None:
    async with AniListDouble(limit=2) as double:
        client = client_for(double)
        await client.fetch_media(30013)
        await client.fetch_media(30013)
        with pytest.raises(ServiceUnavailableError) as caught:
            await client.fetch_media(30013)

    assert caught.value.user_message == "AniList is busy; please try again in 60 seconds."


@pytest.mark.asyncio
async def test_403_outage_says_anilist_is_down_without_retrying(anilist: AniListDouble) -> None:
    anilist.fail("403")
    with pytest.raises(ServiceUnavailableError) as caught:
        await client_for(anilist).search_manga("one")

    assert caught.value.user_message == DOWN
    assert len(anilist.requests) == 1


@pytest.mark.asyncio
async def test_non_json_gateway_error_is_retried_once_then_unreachable(anilist: AniListDouble) -> None:
    anilist.fail("500")
    with pytest.raises(ServiceUnavailableError) as caught:
        await client_for(anilist).fetch_media(30013)

    assert caught.value.user_message == UNREACHABLE
    assert len(anilist.requests) == 2


@pytest.mark.asyncio
async def test_a_stalled_anilist_times_out_twice_then_says_so(anilist: AniListDouble) -> None:
    anilist.fail("stall")
    async with asyncio.timeout(10):
        with pytest.raises(ServiceUnavailableError) as caught:
            await client_for(anilist, timeout=0.2).fetch_media(30013)

    assert caught.value.user_message == SLOW
    assert len(anilist.requests) == 2


@pytest.mark.asyncio
async def test_a_transient_failure_is_retried_once_and_succeeds(anilist: AniListDouble) -> None:
    calls = 0
    original = anilist._fault

    async def once() -> object:
        nonlocal calls
        calls += 1
        if calls == 1:
            anilist.fail("500")
            result = await original()
            anilist.fail(None)
            return result
        return await original()

    anilist._fault = once  # type: ignore[method-assign,assignment]
    media = await client_for(anilist).fetch_media(30013)

    assert media is not None and media.id == 30013
    assert len(anilist.requests) == 2


@pytest.mark.asyncio
async def test_nothing_listening_is_unreachable() -> None:
    double = AniListDouble()
    await double.start()
    url = double.url
    await double.stop()
    client = AniListClient(url, rate_per_min=6000, timeout=2.0)
    with pytest.raises(ServiceUnavailableError) as caught:
        await client.fetch_media(30013)

    assert caught.value.user_message == UNREACHABLE
    assert client.requests_sent == 2


def test_settings_read_the_anilist_pace_and_the_stats_age() -> None:
    from app.config import load_settings

    default = load_settings({})
    chosen = load_settings({"ANILIST_RATE_PER_MIN": "25", "STATS_TTL_HOURS": "0"})

    assert (default.anilist_rate_per_min, default.stats_ttl_hours) == (30, 12)
    assert (chosen.anilist_rate_per_min, chosen.stats_ttl_hours) == (25, 0)
    with pytest.raises(ConfigurationError):
        load_settings({"ANILIST_RATE_PER_MIN": "0"})


@pytest.mark.asyncio
async def test_429_without_retry_after_falls_back_to_the_reset_time(anilist: AniListDouble) -> None:
    anilist.fail("429", retry_after=None, reset_in=40)
    client = AniListClient(anilist.url, rate_per_min=6000, timeout=2.0)
    with pytest.raises(ServiceUnavailableError) as caught:
        await client.fetch_user("ShelfTester")

    assert caught.value.user_message in ("AniList is busy; please try again in 40 seconds.",
                                         "AniList is busy; please try again in 39 seconds.")  # a second may tick


@pytest.mark.asyncio
async def test_a_chapter_or_volume_count_of_0_means_unknown() -> None:
    catalogue = Catalogue.from_dict({"media": [{"id": 1, "title": {"romaji": "Zero"}, "chapters": 0, "volumes": 0}]})
    async with AniListDouble(catalogue) as double:
        media = await client_for(double).fetch_media(1)

    assert media is not None and (media.chapters, media.volumes) == (None, None)


@pytest.mark.asyncio
async def test_a_blank_title_counts_as_missing() -> None:
    catalogue = Catalogue.from_dict({"media": [{"id": 1, "title": {"romaji": "Real Title", "english": "  ",
                                                                   "native": ""}}]})
    async with AniListDouble(catalogue) as double:
        media = await client_for(double).fetch_media(1)

    assert media is not None and media.title == "Real Title" and media.titles() == ["Real Title"]
