FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN useradd --create-home --uid 10001 dmzwatch
WORKDIR /app
COPY pyproject.toml README.md ./
COPY dmzwatch ./dmzwatch
COPY workers ./workers
COPY tasks ./tasks
RUN pip install .
COPY config ./config
# Named volumes copy this directory's owner on first mount: without it the volume is root's and beat cannot
# write its schedule file.
RUN mkdir -p /var/lib/dmzwatch && chown dmzwatch:dmzwatch /var/lib/dmzwatch
USER dmzwatch
ENV DMZWATCH_DATA_DIR=/var/lib/dmzwatch
# A warm shutdown on SIGTERM: `dmzwatch worker` forwards it to Celery, which finishes running tasks.
STOPSIGNAL SIGTERM
ENTRYPOINT ["dmzwatch"]
