# Fedipoly container image (not tested here: Docker cannot run on the development machines).
#   docker build -t fedipoly .
#   docker run -p 127.0.0.1:8000:8000 -v "$PWD/config.toml:/etc/fedipoly/config.toml:ro" \
#     -v fedipoly-data:/var/lib/fedipoly fedipoly            # `fedipoly serve`
#   docker run ... fedipoly worker                              # any `fedipoly` command

# ---- builder: a virtualenv with Fedipoly and its dependencies
FROM python:3.11-slim AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/fedipoly
WORKDIR /src
COPY pyproject.toml README.md ./
COPY fedipoly ./fedipoly
COPY federation ./federation
RUN /opt/fedipoly/bin/pip install .

# ---- runtime: the virtualenv only, run by an unprivileged user
FROM python:3.11-slim
RUN groupadd --system --gid 10001 fedipoly \
 && useradd --system --uid 10001 --gid fedipoly --home-dir /var/lib/fedipoly \
      --shell /usr/sbin/nologin fedipoly \
 && mkdir -p /etc/fedipoly /var/lib/fedipoly \
 && chown fedipoly:fedipoly /var/lib/fedipoly
COPY --from=builder /opt/fedipoly /opt/fedipoly
# The defaults, commented; mount your own file over it (or a directory over /etc/fedipoly).
COPY config.example.toml /etc/fedipoly/config.toml
ENV PATH=/opt/fedipoly/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    FEDIPOLY_CONFIG=/etc/fedipoly/config.toml \
    FEDIPOLY_SERVER_HOST=0.0.0.0 \
    FEDIPOLY_SERVER_PORT=8000 \
    FEDIPOLY_STORAGE_SQLITE_PATH=/var/lib/fedipoly/fedipoly.sqlite3
USER fedipoly
WORKDIR /var/lib/fedipoly
VOLUME ["/var/lib/fedipoly"]
EXPOSE 8000
# 503 (database unavailable) raises in urlopen, so it counts as unhealthy too.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]
# `docker stop` sends SIGTERM: the server finishes in-flight requests, then exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["fedipoly"]
CMD ["serve"]
