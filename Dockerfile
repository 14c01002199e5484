# One image for the web server and the workers:
#   docker run -p 8000:8000 -v imagedit-data:/data imagedit                    (embedded defaults)
#   docker run imagedit python -m app worker                                    (QUEUE_URL=redis://…)
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
# Installs the dependencies (and the package); the final image runs the source from /srv.
RUN python -m venv /venv && /venv/bin/pip install --no-cache-dir .

FROM python:3.11-slim
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 DATA_DIR=/data HOST=0.0.0.0 PORT=8000
RUN useradd --create-home --uid 10001 app && mkdir -p /data && chown app:app /data
WORKDIR /srv
COPY --from=build /venv /venv
COPY --chown=app:app app ./app
COPY --chown=app:app templates ./templates
COPY --chown=app:app static ./static
COPY --chown=app:app migrations ./migrations
COPY --chown=app:app alembic.ini ./
USER app
# The offline engine's person-segmentation model is fetched from PyPI into the data volume at start.
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"
CMD ["sh", "-c", "python -m app.backends.local.models && python -m app migrate && python -m app serve"]
