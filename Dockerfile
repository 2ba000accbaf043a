# autoconf in one image: the web app (`autoconf serve`) and the media worker (`autoconf
# worker`). Alone, with SQLite in the /data volume:
#   docker build -t autoconf . && docker run -p 8000:8000 -v autoconf-data:/data autoconf
# For a lab's server (PostgreSQL, several processes, nginx): compose.yaml and docs/deploy.md.
# First account: docker run --rm -i -v autoconf-data:/data autoconf \
#   autoconf user add admin --role admin  (password on standard input)
FROM python:3.11-slim-bookworm

# ffmpeg from Debian; pg_dump and pg_restore for `autoconf backup` on PostgreSQL.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg postgresql-client \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY autoconf ./autoconf
COPY web ./web
COPY migrations ./migrations
# Optional extras: `transcribe` (faster-whisper, automatic transcription on the CPU) by
# default; `--build-arg AUTOCONF_EXTRAS=` builds a smaller image without it.
ARG AUTOCONF_EXTRAS=transcribe
RUN pip install --no-cache-dir ".${AUTOCONF_EXTRAS:+[$AUTOCONF_EXTRAS]}"

# Never root: the app and the worker run as `autoconf`, owner of /data and /backups only.
RUN useradd --system --home /data autoconf \
    && mkdir -p /data /backups && chown autoconf /data /backups
USER autoconf
ENV AUTOCONF_DATA_DIR=/data PYTHONUNBUFFERED=1
VOLUME ["/data"]
EXPOSE 8000
# The process answers (not the database: an outage must not get the app restarted in a loop;
# /readyz says whether it can work).
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
# `serve` migrates the database first (under a lock on PostgreSQL: replicas start together).
CMD ["autoconf", "serve", "--host", "0.0.0.0", "--port", "8000"]
