# The comparison API: gunicorn by default; the same image runs nginx in front of it
# (`python -m deploy.stack nginx`) and the task worker. docker-compose.yml runs
# migrations and the idempotent seed before gunicorn; see the `web` service there.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app

# Debian's nginx, for the compose `nginx` service (it serves /app/staticfiles itself).
RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx \
    && rm -rf /var/lib/apt/lists/*

# Dependencies first, so code changes don't reinstall them. PyICU (the username
# confusable check, votes/usernames.py) builds against the system's ICU: the compiler
# is removed again, ICU stays.
COPY requirements.txt .
RUN apt-get update \
    && apt-get install -y --no-install-recommends g++ pkg-config libicu-dev \
    && pip install --no-cache-dir -r requirements.txt \
    && apt-get purge -y --auto-remove g++ pkg-config \
    && rm -rf /var/lib/apt/lists/*

COPY . .

# Settings refuse to load without SECRET_KEY and PUBLIC_BASE_URL (unless DEBUG=1).
# These throwaway values exist only for this one RUN step and never reach the final image's env.
RUN SECRET_KEY=collectstatic-build-only-not-secret DEBUG=0 PUBLIC_BASE_URL=http://build.invalid \
    python manage.py collectstatic --noinput --verbosity 0

# The code stays owned by root: the app user can read it, not change it.
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin app
USER app

# gunicorn.conf.py defaults to 127.0.0.1, which is unreachable from outside a container.
ENV BIND=0.0.0.0:8000
EXPOSE 8000

CMD ["gunicorn", "compare_api.wsgi", "--config", "gunicorn.conf.py"]
