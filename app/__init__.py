"""guildshelf: a Discord bot for manga-reading communities, one SQLite file per server."""

from app import engine as _engine

ENGINE = _engine.install()  # before any module of the bot imports sqlite3 (see app/engine.py)
