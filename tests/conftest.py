"""The cross-module tests run on PostgreSQL and a real Mosquitto, as
scripts/run-tests.sh (`make test`) sets them up. Started any other way they
fail at once with the reason, rather than skip: a skipped test in CI hides
what was not tested."""
import os

import pytest

# The fixtures `workdir`, `server` (trytond with sao for a module's
# `database` fixture) and `browser` (headless Chromium) of the browser
# tests; a module defining its own fixture of the same name overrides it.
pytest_plugins = ['support.browser']


def pytest_sessionstart(session):
    uri = os.environ.get('TRYTOND_DATABASE_URI', '')
    if not uri.startswith('postgresql'):
        raise pytest.UsageError(
            "the tests of tests/ need TRYTOND_DATABASE_URI=postgresql://..."
            f" (got {uri!r}): run them with `make test` or "
            "scripts/run-tests.sh")
