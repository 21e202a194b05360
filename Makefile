# Two commands for a newcomer: `make run` and `make test`. Each installs what it needs.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP_STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
RUN_DEPS := build/.system-run
TEST_DEPS := build/.system-test
PO_FILES := $(wildcard appliance/emr/translations/*/LC_MESSAGES/messages.po)
MO_FILES := $(PO_FILES:.po=.mo)

.PHONY: run test test-fast lint bench translations extract-messages image boot soak release clean

PORT ?= 8080

run: $(RUN_DEPS) $(RUN_STAMP) $(MO_FILES)
	$(VENV)/bin/appliance simulate --instance instance --port $(PORT)

# Two pytest at once on the two cores: the tests on the built card (image build and boots, the critical path)
# here, and the rest beside them, whose output follows (build/test-beside.log).
test: $(TEST_DEPS) $(PIP_STAMP) $(MO_FILES)
	@mkdir -p build
	@$(PY) -m pytest -m "not card" -p no:cacheprovider > build/test-beside.log 2>&1 & beside=$$!; \
	$(PY) -m pytest -m card; card=$$?; wait $$beside; beside=$$?; \
	echo "=== make test: the tests beside the card's (build/test-beside.log) ==="; cat build/test-beside.log; \
	echo "make test: card $$card, beside $$beside"; test $$card -eq 0 -a $$beside -eq 0

test-fast: $(TEST_DEPS) $(PIP_STAMP) $(MO_FILES)
	$(PY) -m pytest -m "not slow"

lint: $(PIP_STAMP)
	$(VENV)/bin/ruff check .

bench: $(TEST_DEPS) $(PIP_STAMP) $(MO_FILES)
	$(PY) -m tests.bench.run

translations: $(MO_FILES)

# The bootable SD image (root, Debian 12 build host): build/image/clinic-appliance.img.xz + .sha256.
image: $(TEST_DEPS) $(PIP_STAMP) $(MO_FILES)
	$(PY) image/build.py all

# A release, on the release maker's machine (docs/technician.md, "Publier une version"): the system bundle
# from the built image (make image), and the application bundle from this tree's wheel, checked against the
# image the clinics run (FIELD_IMAGE: without it, no application bundle). Signed RAUC verity bundles.
RELEASE_DIR ?= build/release
RELEASE_IMAGE ?= $(or $(APPLIANCE_IMAGE_WORK),/var/tmp/appliance-image)/clinic-appliance.img
release: $(PIP_STAMP) $(MO_FILES)
	@test -n "$(APPLIANCE_RELEASE_KEY)" -a -n "$(APPLIANCE_RELEASE_CERT)" || \
		{ echo "APPLIANCE_RELEASE_CERT et APPLIANCE_RELEASE_KEY : le certificat et la clé de publication"; exit 2; }
	$(VENV)/bin/appliance update build-bundle system --image $(RELEASE_IMAGE) --output $(RELEASE_DIR)
	@if [ -n "$(FIELD_IMAGE)" ]; then \
		rm -rf $(RELEASE_DIR)/wheel && $(PY) -m pip wheel --no-deps --quiet -w $(RELEASE_DIR)/wheel . && \
		$(VENV)/bin/appliance update build-bundle app --wheel $$(ls $(RELEASE_DIR)/wheel/appliance-*.whl) \
			--against $(FIELD_IMAGE) --output $(RELEASE_DIR); \
	else echo "Pas de paquet d'application : FIELD_IMAGE=<image des cliniques> pour le vérifier contre elle"; fi

# The built image booted in the emulated Pi (QEMU virt, 512 MB) for a person to look around (docs/technician.md).
boot: $(TEST_DEPS) $(PIP_STAMP)
	$(PY) -m tests.boot.look

# Ten staff at once, then a hundred power cuts on the emulated Pi, merged into build/bench/results.json.
# A cut, reboot and check take 45-70 s under emulation on 2 cores (boot to the EMR 25-60 s, by the load):
# SOAK_MINUTES bounds the run; SOAK_RESUME=1 goes on with the same card and its ledger where the last
# run stopped, and the figures cover the whole series.
SOAK_CYCLES ?= 100
SOAK_MINUTES ?= 60
soak: $(TEST_DEPS) $(PIP_STAMP)
	$(PY) -m tests.boot.soak --cycles $(SOAK_CYCLES) --max-minutes $(SOAK_MINUTES) $(if $(SOAK_RESUME),--resume)

# Gather the French source strings and merge them into the English catalogue.
extract-messages: $(PIP_STAMP)
	PYTHONPATH=. $(VENV)/bin/pybabel extract -F appliance/emr/babel.cfg -k _l -k lazy_pgettext:1c,2 -o build/messages.pot appliance
	$(VENV)/bin/pybabel update -i build/messages.pot -d appliance/emr/translations --no-fuzzy-matching

%.mo: %.po $(RUN_STAMP)
	$(VENV)/bin/pybabel compile --use-fuzzy -i $< -o $@

$(RUN_DEPS): .ci/apt-run.txt
	bash .ci/install-system-deps .ci/apt-run.txt
	@mkdir -p build && touch $@

$(TEST_DEPS): .ci/apt-run.txt .ci/apt-packages.txt
	bash .ci/install-system-deps .ci/apt-run.txt .ci/apt-packages.txt
	@mkdir -p build && touch $@

# Running needs the appliance and its dependencies only; the tests also need the [dev] tools.
$(RUN_STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	@touch $@

$(PIP_STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@ $(RUN_STAMP)

clean:
	rm -rf build .pytest_cache
