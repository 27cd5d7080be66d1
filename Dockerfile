# spendsentry service image: slim, non-root, with a health check.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY core core
COPY ingestion ingestion
COPY models models
COPY detector detector
COPY alerts alerts
COPY training training
COPY api api
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 spendsentry && mkdir -p /data && chown spendsentry /data
COPY --from=build /install /usr/local
# The compiled kernels (numba: the detector's, and the scoring answer's points) built into the image, in
# a cache the service may also write to (the site-packages it would use by default are read-only to it);
# on another CPU model they are compiled again there at start, once.
ENV NUMBA_CACHE_DIR=/home/spendsentry/.numba-cache
RUN mkdir -p "$NUMBA_CACHE_DIR" \
    && python -c "from detector.compiled import warm; warm(); from api.score_points import warm; warm()" \
    && chown -R spendsentry "$NUMBA_CACHE_DIR"
WORKDIR /home/spendsentry
USER spendsentry
ENV SPENDSENTRY_DATA_DIR=/home/spendsentry/var \
    SPENDSENTRY_DATABASE_URL=sqlite:////home/spendsentry/var/state.db \
    PYTHONUNBUFFERED=1
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"
CMD ["sh", "-c", "spendsentry bootstrap && exec spendsentry serve --host 0.0.0.0 --port 8000"]
