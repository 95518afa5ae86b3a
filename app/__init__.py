"""guildshelf: a Discord bot for manga-reading communities, one SQLite file per server."""
