# Brevdue: make install | run | test | test-faults | lint | bench | clean
# Prerequisites on a fresh Debian/Ubuntu: python3 (3.11 or newer) with venv, git, make.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
CATALOGS := $(VENV)/.catalogs
LOCALES := services/subscriptions/locales
PO_FILES := $(wildcard $(LOCALES)/*/LC_MESSAGES/*.po)
STAFF_LOCALES := services/campaigns/locales
STAFF_PO_FILES := $(wildcard $(STAFF_LOCALES)/*/LC_MESSAGES/*.po)
# Most tests wait on sockets, processes and databases more than they compute, so four workers
# finish sooner than one per core. Tests marked `timing` measure wall-clock budgets (a
# confirmation mail during a campaign, the API answering while a costly template renders),
# which more workers than cores would eat: they run first, on their own, one worker per core. Each
# worker has its own Redis and PostgreSQL database.
PYTEST_ARGS ?= -q
PYTEST_WORKERS ?= 4
BENCH_ARGS ?=

.PHONY: install run test test-faults lint bench screenshots clean

install: $(INSTALLED) $(CATALOGS)

# Rebuilt only when the dependencies change, so repeated calls cost nothing.
$(INSTALLED): pyproject.toml uv.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
		echo "Brevdue needs Python 3.11 or newer as '$(PYTHON)' (set PYTHON=python3.12 to pick another)."; \
		exit 1; }
	@if [ ! -x $(BIN)/python ]; then \
		$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { \
			echo "python3 cannot create virtual environments: install it with 'sudo apt-get install python3-venv' and run make again."; \
			exit 1; }; \
		$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }; \
	fi
	@[ -x $(BIN)/uv ] || $(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv sync --frozen --all-extras --inexact --compile-bytecode
	@touch $@

# Compiled message catalogs (.mo) for the residents' pages and mails and for the staff app.
$(CATALOGS): $(INSTALLED) $(PO_FILES) $(STAFF_PO_FILES)
	$(if $(PO_FILES),$(BIN)/pybabel -q compile -d $(LOCALES))
	$(if $(STAFF_PO_FILES),$(BIN)/pybabel -q compile -d $(STAFF_LOCALES))
	@touch $@

run: install
	$(BIN)/brevdue run

# Lint first, but let pytest run whatever lint says, so its summary is the last thing printed.
# make reports any failure as status 2, so pytest's own status is also left in a file for CI.
# The tests keep Python's bytecode cache even where PYTHONDONTWRITEBYTECODE is set: without it
# every test worker rewrites and compiles every test module again (some 20 s of CPU each) and
# every `brevdue` process a test starts compiles the packages it imports (about 2 s each).
test: install
	@rm -f $(VENV)/.pytest-status; \
	unset PYTHONDONTWRITEBYTECODE; \
	lint=0; $(MAKE) --no-print-directory lint || lint=$$?; \
	timing=0; $(BIN)/pytest $(PYTEST_ARGS) -n auto --maxprocesses=2 -m timing || timing=$$?; \
	tests=0; $(BIN)/pytest $(PYTEST_ARGS) -n $(PYTEST_WORKERS) -m "not timing" || tests=$$?; \
	if [ $$tests -eq 5 ]; then tests=$$timing; \
	elif [ $$tests -eq 0 ] && [ $$timing -ne 5 ]; then tests=$$timing; fi; \
	echo $$tests > $(VENV)/.pytest-status; \
	if [ $$tests -ne 0 ]; then exit $$tests; fi; exit $$lint

# The fault scenarios at the issue's sizes (20,000 recipients, five mailer kills, 30 s outages
# of the relay, Redis and PostgreSQL) and the short versions too long for `make test`. They
# start real processes and servers of their own and take many minutes: one at a time, figures
# printed. Their database is BREVDUE_TEST_DATABASE_URL's (PostgreSQL); docs/reliability.md has
# the results.
test-faults: install
	$(BIN)/pytest -q -s -m faults_long tests/faults $(FAULTS_ARGS)

# Both linters always run, so one report shows every problem.
lint: install
	@status=0; \
	echo "ruff check"; $(BIN)/ruff check || status=1; \
	echo "mypy"; $(BIN)/mypy || status=1; \
	echo "lint-imports"; $(BIN)/lint-imports --no-cache || status=1; \
	exit $$status

# Pictures of the staff app's pages for the README, taken by the newcomer tour in Chromium.
screenshots: install
	$(BIN)/python -m tools.staff_tour --screenshots docs/screenshots --schedule

# Every benchmark (bench/), three runs each at full size, then docs/benchmarks.md rewritten from
# every result file. A quick pass: make bench BENCH_ARGS="--size small". They measure PostgreSQL
# on 127.0.0.1:5432 and deliver to Postfix's smtp-sink under wrk's load: both are installed
# here from Debian's packages when missing and apt-get is at hand.
bench: install
	@if { [ ! -x /usr/sbin/smtp-sink ] || ! command -v wrk >/dev/null; } && command -v apt-get >/dev/null; then \
		echo "bench: installing Debian's postfix (for smtp-sink) and wrk"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix wrk >/dev/null \
			|| echo "bench: could not install them; the benchmarks that need them will skip"; \
	fi
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache dist
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	find . -name '*.mo' -path '*/locales/*' -delete
