FROM python:3.11-slim

WORKDIR /srv/techmatch
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
COPY models ./models
RUN pip install --no-cache-dir -e .

ENV TECHMATCH_DATA_DIR=/data \
    TECHMATCH_HOST=0.0.0.0 \
    TECHMATCH_PORT=8000
VOLUME ["/data"]
EXPOSE 8000

CMD ["sh", "-c", "techmatch db upgrade && exec techmatch serve"]
