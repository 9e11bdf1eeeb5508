"""A trytond serving a test database over HTTP, and the requests of the
tests of its HTTP APIs (the call centre's events, the push API)."""
import contextlib
import json
import os
import subprocess
import textwrap
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from elevator_platform import scratch_db
from support.process import BIN, ROOT, free_port, stop, wait_for


@contextlib.contextmanager
def serving(conf, database, log, ready, what="trytond to answer"):
    """trytond with the configuration file conf serving database, its
    output appended to log; yields the process once ready() is true (a
    connection refused counts as not yet) and stops it at the end. Fails
    with the log's tail when trytond exits or does not come up."""
    env = {**os.environ}
    env.pop('TRYTOND_CONFIG', None)
    with open(log, 'ab') as out:
        process = subprocess.Popen(
            [str(BIN / 'trytond'), '-c', str(conf), '-d', database],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, cwd=ROOT, start_new_session=True)

    def answers():
        if process.poll() is not None:
            raise AssertionError("trytond exited")
        try:
            return ready()
        except OSError:
            return False
    try:
        try:
            wait_for(answers, what, interval=0.5)
        except AssertionError as error:
            raise AssertionError(f"{error}:\n"
                + Path(log).read_text(errors='replace')[-4000:]) from None
        yield process
    finally:
        stop(process)


@contextlib.contextmanager
def trytond_server(database, workdir, ready, config=''):
    """trytond serving database on a free port of the loopback, with the
    configuration sections `config` added; yields the URL of the database,
    http://127.0.0.1:{port}/{database}, once ready(url) is true."""
    port = free_port()
    conf = workdir / 'trytond.conf'
    # [database] list = False: trytond would connect to every database of
    # the server, which the parallel test runs share (see
    # support.browser.server_config).
    conf.write_text(textwrap.dedent(f"""\
        [database]
        uri = {scratch_db.database_uri()}
        list = False
        [web]
        listen = 127.0.0.1:{port}
        """) + textwrap.dedent(config))
    url = f'http://127.0.0.1:{port}/{database}'
    with serving(conf, database, workdir / 'trytond.log',
            lambda: ready(url)):
        yield url


def post(url, body=None, form=None, headers=None):
    """POST a body (bytes, or a dict or list sent as JSON) or a form;
    return (status, headers, JSON answer or raw bytes)."""
    headers = dict(headers or {})
    if form is not None:
        body = urllib.parse.urlencode(form).encode()
        headers['Content-Type'] = 'application/x-www-form-urlencoded'
    elif isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers.setdefault('Content-Type', 'application/json')
    request = urllib.request.Request(url, data=body or b'', headers=headers,
        method='POST')
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            status, answer_headers, raw = (answer.status, answer.headers,
                answer.read())
    except urllib.error.HTTPError as error:
        status, answer_headers, raw = error.code, error.headers, error.read()
    try:
        data = json.loads(raw)
    except ValueError:
        data = raw
    return status, answer_headers, data
