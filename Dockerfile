# seminar-bot: small image, non-root, pinned dependencies, data on a volume.
#   docker build -t seminar-bot .
#   podman build --format docker -t seminar-bot .     (podman drops HEALTHCHECK without it)
#   docker run -d --name seminar-bot -e DISCORD_TOKEN=... \
#     -v seminar-bot-data:/data -v "$PWD/config.toml:/config/config.toml:ro" seminar-bot
# BASE_IMAGE may be any Debian-like image with python3 (3.11+) and its venv module; the image
# test builds one with mmdebstrap where the official image cannot be pulled.
ARG BASE_IMAGE=python:3.11.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
# An index other than PyPI, if the builder's machine uses one (never stored in the final stage).
ARG PIP_INDEX_URL
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
# Every version is exact, from constraints.txt: pip, setuptools (the same pin as
# [build-system]) and every runtime package. The dependencies get their own layer, built
# from pyproject.toml and constraints.txt only, so it is reused until one of them changes. A
# CA bundle can be lent to pip as the build secret "pip_cert" (a TLS-inspecting proxy); it is
# mounted for this step only and stays out of every layer.
COPY pyproject.toml constraints.txt ./
RUN --mount=type=secret,id=pip_cert \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi \
 && python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --quiet -c constraints.txt pip setuptools \
 && python3 -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" >/tmp/dependencies.txt \
 && /opt/venv/bin/pip install --quiet -c constraints.txt -r /tmp/dependencies.txt
# The project itself, offline, with the venv's pinned setuptools; pip check fails the build
# if a dependency is missing or at a version that does not fit.
COPY README.md LICENSE ./
COPY bot ./bot
RUN /opt/venv/bin/pip install --quiet --no-deps --no-build-isolation . \
 && /opt/venv/bin/pip check

FROM ${BASE_IMAGE}
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
