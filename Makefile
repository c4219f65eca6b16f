# Confab: `make run` serves the chat, `make test` runs the whole suite.
# Both build .venv from the pinned requirements when it is missing or stale.

# The interpreter .venv is made from: an optimised CPython 3.11 where the machine has one (scripts/venv-python).
# Chosen once per make (`?=` would run the script again wherever PYTHON is read).
ifndef PYTHON
PYTHON := $(shell scripts/venv-python)
endif
VENV := .venv
BIN := $(VENV)/bin
# .venv names the interpreter it was made from in a stamp (.made-with-<its path>): with no stamp for PYTHON,
# it is made again from PYTHON (`venv --clear` takes every stamp with it, and so the requirements go in again).
MADE_WITH := $(VENV)/.made-with-$(subst /,-,$(patsubst /%,%,$(PYTHON)))
HOST ?= 127.0.0.1
PORT ?= 8000
SERVER ?= uvicorn
export DEBUG ?= 1

.PHONY: run test demo lint bench migrate browser clean

$(MADE_WITH):
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	touch $@

$(VENV)/.runtime: requirements.txt $(MADE_WITH)
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(MADE_WITH)
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@

migrate: $(VENV)/.runtime
	$(BIN)/python manage.py migrate --noinput

# Outgoing webhooks delivered by a thread of the server: no second process to start (`make run` only: the
# tests run their own worker rounds).
run: export WEBHOOK_WORKER_IN_PROCESS ?= 1
run: migrate
	@echo ""
	@echo "  Confab is running at http://$(HOST):$(PORT)/   (make demo adds users and rooms)"
	@echo ""
# WebSocket keepalive pings every 60 s, not 20: with thousands of idle sockets
# the pings were the server's whole idle CPU (presence has its own liveness).
# No permessage-deflate: every browser asks for it, and its zlib streams cost
# 41 KiB per socket (measured: 20.5 -> 61.8 KiB) and a compression per recipient.
ifeq ($(SERVER),uvicorn)
	$(BIN)/uvicorn config.asgi:application --host $(HOST) --port $(PORT) --loop uvloop --ws websockets-sansio \
		--ws-ping-interval 60 --ws-per-message-deflate false --no-access-log
else
	$(BIN)/daphne -b $(HOST) -p $(PORT) --ping-interval 60 config.asgi:application
endif

demo: migrate
	$(BIN)/python manage.py seed_demo

browser:
	@scripts/ensure-chromium

test: $(VENV)/.dev browser
	@scripts/ensure-nginx
	node --test tests/js/
	$(BIN)/pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/pytest -q tests/test_architecture.py

bench: $(VENV)/.dev
	$(BIN)/python -m bench all

clean:
	rm -rf $(VENV) confab.sqlite3* test_confab*.sqlite3*
