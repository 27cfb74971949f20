# stemme: make run starts the bot on SQLite; make test runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCALES := da en

.PHONY: run test lint bench browser texts-update texts-compile install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

texts-compile: $(STAMP)
	@for lang in $(LOCALES); do \
		$(BIN)/pybabel compile -D stemme -d locales -l $$lang \
		  -i locales/$$lang/LC_MESSAGES/stemme.po -o locales/$$lang/LC_MESSAGES/stemme.mo || exit 1; \
	done

texts-update: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k ngettext:1,2 -c Translators: \
		--no-location --sort-output --project stemme -o locales/stemme.pot bot flows storage sandbox webapp
	@for lang in $(LOCALES); do \
		if [ -f locales/$$lang/LC_MESSAGES/stemme.po ]; then \
			$(BIN)/pybabel update --no-fuzzy-matching -D stemme -d locales -l $$lang -i locales/stemme.pot; \
		else \
			$(BIN)/pybabel init -D stemme -d locales -l $$lang -i locales/stemme.pot; \
		fi; \
	done
	$(BIN)/python -m bot.catalogs fill-english

# With a bot token (STEMME_BOT_TOKEN in the environment or .env): the bot. Without one:
# the sandbox, a made-up care home in a web chat at http://127.0.0.1:8080/.
run: $(STAMP) texts-compile
	mkdir -p data
	@if $(BIN)/python -m bot.config has-token; then \
		$(BIN)/stemme db upgrade && $(BIN)/stemme run; \
	else \
		$(BIN)/stemme sandbox; \
	fi

# The browser tests' Chromium and an emoji font (the bot's texts use emoji): Debian's
# packages, installed once when apt is at hand (as
# root, as in CI); elsewhere install chromium yourself or the browser tests skip.
browser:
	@if (command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1) \
		&& [ -d /usr/share/fonts/truetype/noto ]; then \
		true; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			chromium fonts-noto-color-emoji >/dev/null; \
	else \
		echo "No chromium: the browser tests will skip (apt-get install chromium)"; \
	fi

test: $(STAMP) texts-compile browser
	$(BIN)/pytest -n 4

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP) texts-compile
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
