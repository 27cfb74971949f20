# stemme in a container: the bot, configured by STEMME_* variables (docs/deploy.md).
# Build: docker build -t stemme .   Run: see compose.yaml.
FROM python:3.11-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
COPY bot/__init__.py bot/__init__.py
COPY flows/__init__.py flows/__init__.py
COPY storage/__init__.py storage/__init__.py
COPY webapp/__init__.py webapp/__init__.py
COPY storage/migrations/__init__.py storage/migrations/__init__.py
COPY storage/migrations/versions/__init__.py storage/migrations/versions/__init__.py
RUN pip install -e .

COPY bot bot
COPY flows flows
COPY storage storage
# The dashboard (Mini App) with its page.
COPY webapp webapp
COPY locales locales
COPY babel.cfg ./
# The catalogs are compiled into the image; the .mo files are not in git.
RUN for lang in da en; do \
      pybabel compile -D stemme -d locales -l "$lang" \
        -i "locales/$lang/LC_MESSAGES/stemme.po" -o "locales/$lang/LC_MESSAGES/stemme.mo"; \
    done

RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin stemme \
    && mkdir -p /data && chown stemme /data
USER stemme
# SQLite (the default) keeps its database and key file here: mount a volume.
ENV STEMME_DATABASE_URL=sqlite:////data/stemme.db
VOLUME ["/data"]
EXPOSE 8080

# "stemme run" migrates the database first, then runs the bot: long polling, or with
# "--webhook" as the command, webhook workers.
ENTRYPOINT ["stemme", "run"]
CMD []
