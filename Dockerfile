# guildshelf: the bot in a container. Build and run (the data lives on the volume, the token in .env):
#   docker build -t guildshelf .
#   docker run -d --name guildshelf --env-file .env -v guildshelf-data:/data -p 127.0.0.1:9108:9108 guildshelf
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GUILD_DBS_DIR=/data/guild_dbs \
    LEGACY_DB=/data/database.db \
    METRICS_HOST=0.0.0.0 \
    METRICS_PORT=9108 \
    LOG_FORMAT=json

WORKDIR /app
# exactly the versions CI tests (constraints.txt); editable, so that app/ finds templates/ beside it
COPY pyproject.toml constraints.txt README.md ./
COPY app ./app
COPY templates ./templates
COPY scripts ./scripts
RUN pip install --no-cache-dir -c constraints.txt -e . \
    && useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin guildshelf \
    && mkdir -p /data/guild_dbs \
    && chown -R guildshelf:guildshelf /data \
    && chmod 700 /data /data/guild_dbs

USER guildshelf
# every guild file, the bot-wide file, the legacy database and its kept copies
VOLUME ["/data"]
EXPOSE 9108

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-m", "app.ops.probe"]

CMD ["python", "-m", "app", "run"]
