# nhiwatch as a service: `nhiwatch run` with the store on a volume. Build: docker build -t nhiwatch .
# Run: docker compose -f deploy/compose.yaml up (see docs/run.md).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m pip install --no-cache-dir --prefix=/install '.[server,collect,aws,azure]'

FROM python:3.11-slim
COPY --from=build /install /usr/local
# An unprivileged user owns only the data folder; the code is read-only to it.
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin nhiwatch \
    && mkdir -p /data /etc/nhiwatch && chown nhiwatch /data
USER nhiwatch
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
ENV PYTHONUNBUFFERED=1
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"
ENTRYPOINT ["nhiwatch"]
CMD ["run", "--config", "/etc/nhiwatch/nhiwatch.yaml"]
