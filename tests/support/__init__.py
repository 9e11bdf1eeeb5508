"""Helpers shared by the cross-module tests of tests/.

- `support.process`: waiting, free ports, subprocesses (`wait_for`, `WAIT`,
  `free_port`, `run`, `stop`, `reachable`);
- `support.db`: PostgreSQL databases of the tests (`database_name`,
  `admin_sql`, `query`, `scalar`, `uri_for`);
- `support.browser`: headless Chromium over the DevTools protocol, a trytond
  serving sao, and the login to sao (`Chromium`, `sao_login`, the fixtures
  `workdir`, `server`, `browser`);
- `support.http`: a trytond serving a test database (`serving`, and
  `trytond_server` with a configuration of its own on a free port) and the
  POST of the HTTP API tests (`post`);
- `support.access`: acting as a user with the access checks of an RPC call
  on (`user_transaction`, `as_user`, `as_rpc` retried as the dispatcher
  retries);
- `support.mqtt`: our own Mosquitto on a free port;
- `support.iot`: the IoT database template, the bridge process, the
  publisher and the queries of the tests/test_iot_*.py files.

pytest puts tests/ on sys.path (rootdir conftest, no __init__.py in tests/),
so the test files import `support.<module>`.
"""
