# seminar-bot: small image, non-root, pinned dependencies, data on a volume.
#   docker build -t seminar-bot .
#   docker run -d --name seminar-bot -e DISCORD_TOKEN=... \
#     -v seminar-bot-data:/data -v "$PWD/config.toml:/config/config.toml:ro" seminar-bot
FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY bot ./bot
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/venv/bin/pip install --no-cache-dir -c constraints.txt .

FROM python:3.11.11-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SEMINAR_BOT_HEALTH_FILE=/data/health.json \
    SEMINAR_BOT_DB=/data/seminar-bot.db
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin seminarbot \
 && mkdir -p /data /config && chown seminarbot /data
COPY --from=build /opt/venv /opt/venv
USER seminarbot
VOLUME ["/data"]
WORKDIR /data
# The token comes from DISCORD_TOKEN or a Docker secret (DISCORD_TOKEN_FILE=/run/secrets/...).
# Healthy = gateway connected and every active feed polled successfully recently.
HEALTHCHECK --interval=60s --timeout=10s --start-period=120s --retries=3 \
  CMD ["seminar-bot", "health", "--file", "/data/health.json"]
ENTRYPOINT ["seminar-bot"]
CMD ["run", "--config", "/config/config.toml"]
