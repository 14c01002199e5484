# One image for the web server and the workers:
#   docker run -p 8000:8000 -v imagedit-data:/data imagedit                    (embedded defaults)
#   docker run imagedit python -m app worker                                    (QUEUE_URL=redis://…)
# Without the offline engine (EDIT_BACKEND=openai only; no numpy, OpenCV, LiteRT or models):
#   docker build --build-arg LOCK=base -t imagedit-openai .
FROM python:3.11-slim AS build
# run: the app and the `local` extra (requirements/run.txt); base: the app alone (requirements/base.txt).
ARG LOCK=run
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# The dependencies first, from the hashed lock and wheels only, so a code change reuses this layer.
COPY requirements ./requirements
RUN python -m venv /venv \
  && /venv/bin/pip install --require-hashes --only-binary=:all: -r requirements/${LOCK}.txt
COPY pyproject.toml README.md ./
COPY app ./app
# The package itself (its entry point and metadata); the final image runs the source from /srv.
RUN /venv/bin/pip install --no-deps .
# The offline engine's person-segmentation models, fetched from PyPI now (the mediapipe wheel, each file
# checked by its SHA-256) so that a container starts without the network and never writes them.
RUN mkdir -p /srv/models \
  && if [ "$LOCK" != base ]; then /venv/bin/python -m app.backends.local.models --dir /srv/models; fi

FROM python:3.11-slim
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 DATA_DIR=/data MODEL_DIR=/srv/models HOST=0.0.0.0 PORT=8000
RUN useradd --create-home --uid 10001 app && mkdir -p /data && chown app:app /data
WORKDIR /srv
COPY --from=build /venv /venv
# Owned by root and world-readable: the app user reads the models and cannot change them.
COPY --from=build /srv/models /srv/models
COPY --chown=app:app app ./app
COPY --chown=app:app templates ./templates
COPY --chown=app:app static ./static
COPY --chown=app:app migrations ./migrations
COPY --chown=app:app alembic.ini ./
USER app
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"
CMD ["sh", "-c", "python -m app migrate && python -m app serve"]
