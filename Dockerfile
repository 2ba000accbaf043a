# autoconf: the embedded default (SQLite + a data folder in /data) in one image.
#   docker build -t autoconf . && docker run -p 8000:8000 -v autoconf-data:/data autoconf
# First account: docker run --rm -i -v autoconf-data:/data autoconf \
#   autoconf user add admin --role admin  (password on standard input)
FROM python:3.11-slim-bookworm

RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY autoconf ./autoconf
COPY web ./web
COPY migrations ./migrations
RUN pip install --no-cache-dir .

RUN useradd --system --home /data autoconf && mkdir -p /data && chown autoconf /data
USER autoconf
ENV AUTOCONF_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/v1/health')"
CMD ["autoconf", "serve", "--host", "0.0.0.0", "--port", "8000"]
