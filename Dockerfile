# Pleura (needs BuildKit, the default builder since Docker 23): one image for web (ASGI), Celery workers,
# beat and migrations, plus an nginx image with the static files. Build (deploy/README.md, "Containers"):
#   docker build -t pleura:cpu .                                   # CPU-only torch (small)
#   docker build -t pleura:cuda --build-arg VARIANT=cuda .         # torch with CUDA (GPU workers)
#   docker build -t pleura-nginx --target nginx .                  # nginx with the collected static files
# CUDA: PyPI's Linux torch wheels carry the CUDA runtime libraries, so the host needs only the NVIDIA driver
# and container toolkit; BASE_IMAGE can still be set to an nvidia/cuda image where a site requires one.

ARG BASE_IMAGE=python:3.11-slim-bookworm
ARG NGINX_IMAGE=nginx:1.27-bookworm

# --- builder: every dependency as a wheel (compilers stay here) ----------------------------------------
FROM ${BASE_IMAGE} AS builder
ARG VARIANT=cpu
# Where the CPU-only torch wheels come from (VARIANT=cpu); VARIANT=cuda takes torch from the default index.
ARG TORCH_CPU_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# Debian packages unpinned on purpose: the release's security updates come with each build.
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY requirements.txt constraints.txt ./
RUN set -eux; \
    if [ "$VARIANT" = cpu ]; then \
      grep -E '^(torch|torchvision)==' constraints.txt > torch-pins.txt; \
      pip wheel --wheel-dir /wheels --no-deps --index-url "$TORCH_CPU_INDEX_URL" -r torch-pins.txt; \
    elif [ "$VARIANT" != cuda ]; then echo "VARIANT must be cpu or cuda" >&2; exit 1; fi; \
    pip wheel --wheel-dir /wheels --find-links /wheels -c constraints.txt -r requirements.txt; \
    cp requirements.txt constraints.txt /wheels/

# --- runtime: slim, non-root, no compilers ---------------------------------------------------------------
FROM ${BASE_IMAGE} AS runtime
ARG VARIANT=cpu
LABEL org.opencontainers.image.title="pleura" org.opencontainers.image.description="Pleura web, workers, beat, migrate" \
      org.opencontainers.image.licenses="see repository" io.pleura.variant="${VARIANT}"
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=pleura.settings.production \
    PLEURA_VAR_DIR=/srv/pleura/var PLEURA_MEDIA_ROOT=/srv/pleura/media PLEURA_STATIC_ROOT=/srv/pleura/static \
    MPLCONFIGDIR=/tmp/matplotlib XDG_CACHE_HOME=/tmp/cache
# libglib2.0-0: OpenCV's video decoding; tini is PID 1 (signals reach celery/daphne, zombies reaped).
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends libglib2.0-0 tini \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 pleura \
    && useradd --system --uid 10001 --gid pleura --home-dir /srv/pleura --shell /usr/sbin/nologin pleura
# Installed from the builder's wheels through a bind mount: the wheels themselves never enter a layer.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m venv /opt/venv \
    && pip install --no-cache-dir --no-index --find-links /wheels -c /wheels/constraints.txt -r /wheels/requirements.txt
WORKDIR /srv/pleura/app
COPY manage.py pyproject.toml ./
COPY platform ./platform
COPY ml ./ml
COPY frontend ./frontend
COPY deploy/docker/entrypoint.sh /usr/local/bin/pleura-entrypoint
COPY deploy/docker/healthcheck.py /usr/local/bin/pleura-healthcheck
# Static files collected at build (served by nginx, or by WhiteNoise where no nginx is in front); the
# throw-away keys only satisfy the production settings' checks during the build.
RUN DJANGO_SECRET_KEY=build-only PLEURA_PSEUDONYM_KEY=build-only python manage.py collectstatic --noinput \
    && mkdir -p /srv/pleura/media /srv/pleura/var \
    && chown pleura:pleura /srv/pleura/media /srv/pleura/var
USER 10001:10001
EXPOSE 8000
VOLUME ["/srv/pleura/media"]
# web: GET /healthz is 200 (database and broker reachable); worker: `celery inspect ping` of its own node.
HEALTHCHECK --interval=30s --timeout=20s --start-period=60s --retries=3 CMD ["pleura-healthcheck"]
ENTRYPOINT ["tini", "--", "pleura-entrypoint"]
CMD ["web"]

# --- nginx: TLS, static files, signed /frames/ (secure_link), websockets (deploy/nginx/pleura.conf) -------
FROM ${NGINX_IMAGE} AS nginx
# The official image renders /etc/nginx/templates/*.template with the container's environment at start.
RUN rm -f /etc/nginx/conf.d/default.conf
COPY deploy/nginx/pleura.conf /etc/nginx/templates/pleura.conf.template
COPY --from=runtime /srv/pleura/static /srv/pleura/static
ENV PLEURA_STATIC_ROOT=/srv/pleura/static PLEURA_MEDIA_ROOT=/srv/pleura/media \
    PLEURA_HTTP_LISTEN=8080 PLEURA_HTTPS_LISTEN=8443 PLEURA_WEB_UPSTREAM=web:8000 PLEURA_SERVER_NAME=_ \
    PLEURA_TLS_CERT=/run/secrets/tls_cert PLEURA_TLS_KEY=/run/secrets/tls_key
EXPOSE 8080 8443
HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/nginx-health"]
