# citebot: CPU-only image that runs the Discord bot. Data lives in the /data volume.
#   docker build -t citebot .
#   docker run --env-file .env -v citebot-data:/data citebot
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    CITEBOT_DATA_DIR=/data \
    CITEBOT_RERANKER_PATH=/app/models/news-reranker

WORKDIR /app
# The CPU build of torch, pinned, before anything that depends on it: an unpinned torch
# pulls the multi-gigabyte CUDA build.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN pip install --index-url "$TORCH_INDEX" torch==2.13.0

COPY pyproject.toml README.md ./
COPY bot ./bot
COPY index ./index
COPY samples ./samples
COPY models ./models
RUN pip install . \
    && useradd --create-home --uid 10001 citebot \
    && mkdir -p /data && chown citebot /data

USER citebot
VOLUME ["/data"]
CMD ["citebot", "run"]
