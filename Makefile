# The three commands of the platform; each does its own set-up.
.PHONY: demo test bench venv services sao browser packages demo-packages stop-demo

demo: venv sao demo-packages
	scripts/demo.sh

test: venv services sao browser packages
	scripts/run-tests.sh

bench: venv services
	scripts/run-bench.sh

venv:
	scripts/setup-venv.sh

services:
	scripts/ensure-services.sh

sao:
	scripts/setup-sao.sh

browser:
	scripts/ensure-browser.sh

packages:
	scripts/ensure-packages.sh test

demo-packages:
	scripts/ensure-packages.sh demo

stop-demo:
	scripts/demo.sh stop

# The production topology on this machine without containers (docker/):
# gunicorn, trytond-cron, two trytond-worker, two bridges on PostgreSQL and
# Mosquitto; settings in scripts/prod-local.sh.
.PHONY: prod-local prod-local-stop
prod-local: venv services sao
	scripts/prod-local.sh

prod-local-stop:
	scripts/prod-local.sh stop
