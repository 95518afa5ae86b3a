"""What wraps every REST route of the double: the bot's Authorization, error bodies, rate limits.

Rate limits as Discord sends them (topics/rate-limits.mdx): per-route buckets keyed by the route and
its major parameter (channel, guild, webhook + token), `X-RateLimit-*` headers on every answer, a
global limit for bot-authenticated calls (interaction callbacks and token webhooks are outside it),
and 429 with `retry_after` and `X-RateLimit-Scope`. A test lowers the limits or forces 429s.
"""
from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from app.doubles.discord_errors import RestError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAJOR_PARAMS = ("channel", "guild", "app", "token")
UNAUTHORIZED = RestError(401, 0, "401: Unauthorized")


@dataclass
class _Window:
    limit: int
    reset_at: float
    used: int = 0


@dataclass
class RateLimits:
    """Fixed windows per bucket; `route_limit` per `window` seconds, `global_limit` per second."""

    route_limit: int = 50
    window: float = 1.0
    global_limit: int = 50
    clock: Callable[[], float] = time.time
    forced: list[tuple[str, float]] = field(default_factory=list)  # (scope, retry_after) for the next calls
    hits: list[tuple[str, str]] = field(default_factory=list)  # (bucket key, "ok" | "429:<scope>")
    _windows: dict[str, _Window] = field(default_factory=dict)

    def force_429(self, *, retry_after: float = 0.25, scope: str = "user", times: int = 1) -> None:
        """The next `times` rate-limited calls get a 429 (scope "user", "shared" or "global")."""
        self.forced.extend([(scope, retry_after)] * times)

    def _window(self, key: str, limit: int, length: float) -> _Window:
        now = self.clock()
        window = self._windows.get(key)
        if window is None or now >= window.reset_at:
            window = self._windows[key] = _Window(limit, now + length)
        return window

    def take(self, key: str, bucket: str, *, is_global: bool) -> dict[str, str]:
        """Count one call; the headers to send.

        Raises:
            web.HTTPTooManyRequests: over a limit (or forced), with Discord's body and headers.
        """
        if is_global:
            glob = self._window("global", self.global_limit, 1.0)
            glob.used += 1
            if glob.used > glob.limit:
                self._refuse(key, "global", glob.reset_at - self.clock(), {})
        window = self._window(key, self.route_limit, self.window)
        window.used += 1
        now = self.clock()
        headers = {"X-RateLimit-Limit": str(window.limit),
                   "X-RateLimit-Remaining": str(max(window.limit - window.used, 0)),
                   "X-RateLimit-Reset": f"{window.reset_at:.3f}",
                   "X-RateLimit-Reset-After": f"{max(window.reset_at - now, 0):.3f}",
                   "X-RateLimit-Bucket": bucket}
        if self.forced:
            scope, retry_after = self.forced.pop(0)
            self._refuse(key, scope, retry_after, headers)
        if window.used > window.limit:
            self._refuse(key, "user", window.reset_at - now, headers)
        self.hits.append((key, "ok"))
        return headers

    def _refuse(self, key: str, scope: str, retry_after: float, headers: dict[str, str]) -> None:
        retry_after = max(retry_after, 0.001)
        is_global = scope == "global"
        self.hits.append((key, f"429:{scope}"))
        out = {**headers, "Retry-After": str(math.ceil(retry_after)), "X-RateLimit-Scope": scope}
        if is_global:
            out["X-RateLimit-Global"] = "true"
        else:
            out["X-RateLimit-Remaining"] = "0"
            out["X-RateLimit-Reset-After"] = f"{retry_after:.3f}"
        raise web.HTTPTooManyRequests(
            headers=out, content_type="application/json",
            text=f'{{"message": "You are being rate limited.", "retry_after": {retry_after:.3f}, '
                 f'"global": {"true" if is_global else "false"}}}')

    @property
    def refused(self) -> int:
        return sum(1 for _, outcome in self.hits if outcome.startswith("429"))


def bucket_of(request: web.Request) -> tuple[str, str]:
    """(the bucket key: method, route and major parameters; the bucket hash Discord would name)."""
    resource = request.match_info.route.resource
    template = resource.canonical if resource is not None else request.path
    route = f"{request.method} {template}"
    majors = [request.match_info.get(name, "") for name in MAJOR_PARAMS]
    return f"{route} {' '.join(majors)}", hashlib.sha1(route.encode()).hexdigest()[:16]


def make_middleware(authorized: Callable[[web.Request], bool], limits: RateLimits) -> Callable[..., Awaitable[
        web.StreamResponse]]:
    @web.middleware
    async def discord_rest(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        token_route = "/interactions/" in path or "/webhooks/" in path  # authenticated by the token in the URL
        if not path.startswith("/api/") or path.endswith("/callback"):
            headers: dict[str, str] = {}  # hikari treats the callback route as having no rate limits
        else:
            if not token_route and not authorized(request):
                return UNAUTHORIZED.response()
            key, bucket = bucket_of(request)
            headers = limits.take(key, bucket, is_global=not token_route)
        try:
            response = await handler(request)
        except RestError as error:
            response = error.response()
        response.headers.update(headers)
        return response

    return discord_rest
