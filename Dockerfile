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
USER dmzwatch
ENV DMZWATCH_DATA_DIR=/var/lib/dmzwatch
ENTRYPOINT ["dmzwatch"]
