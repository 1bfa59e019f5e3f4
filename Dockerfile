# Two targets: `app` (bot and gallery, no torch) and `worker` (CUDA torch + diffusers).
# Both run as the same numeric user (10001), so files on the shared media volume have one owner.
FROM ghcr.io/astral-sh/uv:0.9.5 AS uv

FROM python:3.11-slim-bookworm AS app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY core core
COPY jobs jobs
COPY gallery gallery
COPY intake intake
COPY worker worker
COPY bot bot
COPY api api
COPY cli cli
# s3: the gallery serves clips from a bucket when REELBOT_MEDIA_STORE=s3 (remote workers).
# toxicity: the abuse classifier beside the prompt word lists (REELBOT_TOXICITY_THRESHOLD).
RUN pip install ".[postgres,s3,toxicity]"
# /data/media exists in the image so that a fresh named volume mounted there is ours, not root's.
RUN useradd --uid 10001 --user-group --create-home reelbot \
    && mkdir -p /data/media && chown -R reelbot:reelbot /data
USER 10001:10001
ENV REELBOT_DATA_DIR=/data
CMD ["reelbot", "gallery"]

FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 AS worker
# Ubuntu 24.04 packages no Python 3.11: uv installs a standalone CPython 3.11 into /opt/python.
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_PYTHON_INSTALL_DIR=/opt/python UV_NO_CACHE=1 UV_LINK_MODE=copy \
    PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 REELBOT_DATA_DIR=/data \
    HF_HOME=/home/reelbot/.cache/huggingface
RUN uv python install 3.11 && uv venv --python 3.11 /venv
WORKDIR /app
COPY pyproject.toml README.md ./
COPY core core
COPY jobs jobs
COPY gallery gallery
COPY intake intake
COPY worker worker
COPY bot bot
COPY api api
COPY cli cli
# The output scan's NudeNet classifier is AGPL-3.0: built in only when asked for, with
# `docker compose build --build-arg WORKER_EXTRAS=nsfw worker` (see README, Moderation).
ARG WORKER_EXTRAS=""
RUN uv pip install --python /venv/bin/python ".[worker,postgres${WORKER_EXTRAS:+,$WORKER_EXTRAS}]"
RUN useradd --uid 10001 --user-group --create-home reelbot \
    && mkdir -p /data/media "$HF_HOME" \
    && chown -R reelbot:reelbot /data /home/reelbot/.cache
USER 10001:10001
CMD ["reelbot", "worker"]
