# Nazar: `make run` starts the platform, `make test` runs the test suite.
# Every install step lives here, so a fresh clone needs nothing set up by hand.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
LOADTEST_VENV := loadtests/.venv

.PHONY: run test bench token rebuild setup broker loadtest clean catalog partner

run: setup
	exec $(PY) -m deploy.launcher

# The load generator's tests run in its own virtualenv (gevent), apart from the platform's.
test: setup $(LOADTEST_VENV)/.installed
	$(PY) -m deploy.broker --management
	$(PY) -m pytest $(PYTEST_ARGS)
	$(LOADTEST_VENV)/bin/python -m pytest -c loadtests/pytest.ini loadtests/tests

# Every benchmark runs even if one misses a target; the exit code tells.
bench: setup
	$(PY) -m deploy.broker --management
	$(PY) -m bench.foundation; foundation=$$?; \
	$(PY) -m bench.registry; registry=$$?; \
	$(PY) -m bench.training; training=$$?; \
	$(PY) -m bench.deployment; deployment=$$?; \
	$(PY) -m bench.reporting; reporting=$$?; \
	$(PY) -m bench.hotline; hotline=$$?; \
	$(PY) -m bench.partners; partners=$$?; \
	exit $$(( foundation || registry || training || deployment || reporting || hotline || partners ))

# make token ROLE=regional_coordinator REGION=KG-C   (OBSERVER=<id> for an observer)
token: setup
	@$(PY) -m deploy.token $(ROLE) $(if $(REGION),--region $(REGION)) \
		$(if $(OBSERVER),--observer $(OBSERVER)) $(if $(REGIONS),--regions $(REGIONS))

# The AsyncAPI catalog (docs/asyncapi.json) and its page (docs/events.md), from the code.
catalog: setup
	$(PY) -m services.partners.asyncapi

# make partner NAME=kg-c-hq REGIONS=KG-C,KG-Y SCOPE=reporting,hotline   (DELETE=1 removes)
partner: setup
	@$(PY) -m services.partners.admin $(NAME) --regions "$(REGIONS)" --services "$(SCOPE)" \
		$(if $(DELETE),--delete)

# make rebuild SERVICE=registry [PROJECTION=observers]
rebuild: setup
	$(PY) -m shared.rebuild $(SERVICE) $(PROJECTION)

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
		{ echo "Nazar needs Python 3.10 or newer as $(PYTHON)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

broker: setup
	$(PY) -m deploy.broker --management

# locust runs on gevent, the platform on eventlet: separate virtualenvs and processes.
# make loadtest [USERS=2000] [DURATION=3m] [HOST=https://...] [TOKEN=...] [PROCESSES=1]
# Without HOST it starts the platform itself; the platform's .venv runs its helpers.
loadtest: setup $(LOADTEST_VENV)/.installed
	$(LOADTEST_VENV)/bin/python loadtests/run.py

$(LOADTEST_VENV)/.installed: loadtests/requirements.txt
	$(PYTHON) -m venv $(LOADTEST_VENV)
	$(LOADTEST_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		-r loadtests/requirements.txt
	touch $@

clean:
	rm -rf $(VENV) $(LOADTEST_VENV) var
