"""`python -m app.ops.probe`: exit 0 if the running bot's /healthz answers 200 (the container's HEALTHCHECK).

Reads METRICS_PORT and METRICS_HOST like the bot (a bot listening on every address is asked on 127.0.0.1).
No curl in a slim image, and no third-party import: the probe runs every 30 s.
"""
from __future__ import annotations

import sys
import urllib.error
import urllib.request

from app.config import Settings, load_settings

TIMEOUT_S = 4.0
_ANY = {"0.0.0.0", "::", "[::]", ""}


def health_url(settings: Settings) -> str | None:
    if settings.metrics_port is None:
        return None
    host = "127.0.0.1" if settings.metrics_host in _ANY else settings.metrics_host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.metrics_port}/healthz"


def probe(settings: Settings) -> tuple[bool, str]:
    """(healthy, one sentence)."""
    url = health_url(settings)
    if url is None:
        return False, "METRICS_PORT is not set, so the bot serves no /healthz."
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
        with opener.open(url, timeout=TIMEOUT_S) as response:
            return response.status == 200, f"{url}: {response.read().decode(errors='replace').strip()}"
    except urllib.error.HTTPError as error:
        return False, f"{url}: {error.read().decode(errors='replace').strip() or error.code}"
    except (urllib.error.URLError, OSError) as error:
        return False, f"{url} did not answer: {getattr(error, 'reason', error)}"


def main() -> int:
    healthy, sentence = probe(load_settings())
    print(sentence, file=sys.stdout if healthy else sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
