# Two targets: `app` (bot and gallery, no torch) and `worker` (CUDA torch + diffusers).
FROM python:3.11-slim AS app
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
COPY pyproject.toml README.md ./
COPY bot bot
COPY worker worker
COPY gallery gallery
RUN pip install ".[postgres]"
RUN useradd --create-home reelbot && mkdir -p /data && chown reelbot /data
USER reelbot
ENV REELBOT_DATA_DIR=/data

FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 AS worker
RUN apt-get update && apt-get install -y --no-install-recommends python3.11 python3.11-venv \
    && rm -rf /var/lib/apt/lists/* && python3.11 -m venv /venv
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 REELBOT_DATA_DIR=/data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot bot
COPY worker worker
COPY gallery gallery
RUN pip install ".[worker,postgres]"
RUN useradd --create-home reelbot && mkdir -p /data && chown reelbot /data
USER reelbot
CMD ["python", "-m", "worker"]
