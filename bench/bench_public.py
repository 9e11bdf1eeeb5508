"""Benchmark of the public elevator card API (issue 6, DESIGN §8).

On a fresh PostgreSQL database (created here, dropped at the end) with
elevator_public and the demo registry of 30,000 elevators
(`elevator demo-data`'s generator):

- baseline: a bare Werkzeug WSGI app answering a small JSON document
  ("hello"), under gunicorn with 2 sync workers;
- card: GET /{db}/elevator/public/v1/elevators/{rescue code} served by
  trytond (trytond.application:app, the production WSGI entry point) under
  gunicorn with the same 2 workers, each request for a rescue code drawn
  at random among the 30,000 (a wrk Lua script), with the rate limiter
  running (limit set high enough not to refuse); measured twice: as
  configured by default (each process keeps the cards it served for 30 s)
  and with that cache off (`card_cache_size = 0`), every request running
  the card's query.

Both servers are run the same way: gunicorn, 2 sync workers by default
(`--worker-class gthread --threads 4` for threaded workers).

Load: `wrk -t2 -c32 --latency` on the loopback, a warm-up then a measured
run for each, in the same run of this script. The machine's load average
is printed too: other processes on the same cores change every figure.

Targets (on the default configuration; the uncached figure is printed
beside it): the card sustains at least 1,000 requests/s with a p99 latency
under 50 ms, and every answer is a 200. Prints both figures and
PASS/FAIL; exit code 1 on FAIL. `--database NAME` reuses a database
already loaded (kept).

wrk comes from Debian (`apt-get install wrk`, done here when missing and
running as root); gunicorn is pinned in requirements.txt.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TARGET_RPS = 1000
TARGET_P99_MS = 50
ADMIN_PASSWORD = 'elevator-demo'


def hello_app(environ, start_response):
    "The baseline: a bare Werkzeug WSGI app answering a JSON document."
    from werkzeug.wrappers import Response
    response = Response(json.dumps({'hello': 'world', 'ok': True}),
        content_type='application/json; charset=utf-8')
    return response(environ, start_response)


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def ensure_wrk():
    if shutil.which('wrk'):
        return shutil.which('wrk')
    if os.geteuid() != 0:
        raise SystemExit("wrk is missing: apt-get install wrk (as root)")
    print("installing wrk (Debian package)", flush=True)
    env = {**os.environ, 'DEBIAN_FRONTEND': 'noninteractive'}
    if subprocess.run(['apt-get', 'install', '-y', '-q', 'wrk'],
            env=env, stdout=subprocess.DEVNULL).returncode:
        subprocess.run(['apt-get', 'update', '-q'], env=env, check=True,
            stdout=subprocess.DEVNULL)
        subprocess.run(['apt-get', 'install', '-y', '-q', 'wrk'], env=env,
            check=True, stdout=subprocess.DEVNULL)
    return shutil.which('wrk')


def database_uri():
    return os.environ.get('TRYTOND_DATABASE_URI',
        'postgresql://postgres@127.0.0.1:5432/')


def create_database(name, modules, workdir):
    from elevator_platform import scratch_db
    scratch_db.admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    scratch_db.admin_sql(
        f'CREATE DATABASE "{name}" ENCODING \'UTF8\' TEMPLATE template0')
    passfile = workdir / 'password'
    passfile.write_text(ADMIN_PASSWORD + '\n')
    env = {**os.environ, 'TRYTONPASSFILE': str(passfile),
        'TRYTOND_DATABASE_URI': database_uri()}
    env.pop('TRYTOND_CONFIG', None)
    result = subprocess.run([str(BIN / 'trytond-admin'), '-d', name,
            '-u', *modules, '--activate-dependencies', '-l', 'zh_CN',
            '--email', 'admin@example.com'],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, env=env, text=True)
    if result.returncode:
        raise SystemExit("trytond-admin failed:\n" + result.stdout[-4000:])


def load_registry(name, elevators, seed):
    "The demo registry; returns the rescue codes of the elevators in use."
    from elevator_platform import tryton_env
    from elevator_platform.demo_data import load_demo
    with tryton_env.transaction(name) as pool:
        load_demo(pool, elevators, seed)
    return rescue_codes(name)


def rescue_codes(name):
    from elevator_platform import tryton_env
    with tryton_env.transaction(name, readonly=True) as pool:
        Elevator = pool.get('elevator.elevator')
        return [r['rescue_code'] for r in Elevator.search_read([
                    ('rescue_code', '!=', None)], order=[('id', 'ASC')],
                fields_names=['rescue_code'])]


class Gunicorn:
    def __init__(self, app, port, log, env=None, chdir=None, workers=2,
            worker_class='sync', threads=1):
        if worker_class != 'gthread':
            # gunicorn turns a sync worker with threads into gthread.
            threads = 1
        cmd = [str(BIN / 'gunicorn'), '--workers', str(workers),
            '--worker-class', worker_class, '--threads', str(threads),
            '--bind', f'127.0.0.1:{port}',
            '--backlog', '2048', '--timeout', '120', '--log-level', 'warning']
        if chdir:
            cmd += ['--chdir', str(chdir)]
        self.log = open(log, 'ab')
        self.process = subprocess.Popen(cmd + [app], stdout=self.log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env or os.environ, start_new_session=True)

    def wait(self, url, timeout=300):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited: see {self.log.name}")
            try:
                with urllib.request.urlopen(url, timeout=10) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise SystemExit(f"{url} did not answer")

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


def run_wrk(wrk, url, seconds, connections, script=None):
    cmd = [wrk, '-t2', f'-c{connections}', f'-d{seconds}s', '--latency',
        '--timeout', '10s']
    if script:
        cmd += ['-s', str(script)]
    result = subprocess.run(cmd + [url], capture_output=True, text=True,
        check=True)
    return parse_wrk(result.stdout)


UNITS = {'us': 0.001, 'ms': 1.0, 's': 1000.0}


def parse_wrk(output):
    rps = float(re.search(r'Requests/sec:\s+([\d.]+)', output).group(1))
    p99 = re.search(r'99%\s+([\d.]+)(us|ms|s)\b', output)
    p50 = re.search(r'50%\s+([\d.]+)(us|ms|s)\b', output)
    requests = int(re.search(r'(\d+) requests in', output).group(1))
    bad = re.search(r'Non-2xx or 3xx responses: (\d+)', output)
    errors = re.search(r'Socket errors: (.*)', output)
    return {
        'rps': rps,
        'p50': float(p50.group(1)) * UNITS[p50.group(2)],
        'p99': float(p99.group(1)) * UNITS[p99.group(2)],
        'requests': requests,
        'non_2xx': int(bad.group(1)) if bad else 0,
        'socket_errors': errors.group(1).strip() if errors else '',
        }


def card_script(path, database, codes):
    "wrk Lua script: each request asks for a random elevator's card."
    table = ','.join(f'"{c}"' for c in codes)
    path.write_text(f'''
local codes = {{{table}}}
local prefix = "/{database}/elevator/public/v1/elevators/"
local n = #codes
local counter = 0
function setup(thread)
    counter = counter + 1
    thread:set("seed", counter)
end
function init(args)
    math.randomseed(seed * 7919)
end
function request()
    return wrk.format("GET", prefix .. codes[math.random(n)])
end
''')
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--elevators', type=int, default=30000)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--duration', type=int, default=20,
        help="seconds of each measured wrk run (default: 20)")
    parser.add_argument('--connections', type=int, default=32)
    parser.add_argument('--worker-class', default='sync',
        help="gunicorn worker class of both servers (default: sync, as "
        "the reference figure of the issue; gthread keeps connections "
        "alive and overlaps the database round trips)")
    parser.add_argument('--threads', type=int, default=4,
        help="threads per gthread worker (default: 4)")
    parser.add_argument('--modules', default='elevator_public',
        help="modules to activate, comma-separated (default: "
        "elevator_public; add elevator_maintenance,elevator_iot for the "
        "card with maintenance and monitoring data)")
    parser.add_argument('--keep', action='store_true',
        help="keep the database")
    parser.add_argument('--database',
        help="use this existing database (kept) instead of a new one")
    args = parser.parse_args(argv)
    os.environ.setdefault('TRYTOND_DATABASE_URI', database_uri())
    os.environ['TRYTOND_CONFIG'] = ''
    sys.path.insert(0, str(ROOT / 'src'))
    wrk = ensure_wrk()
    name = args.database or f'bench_public_{uuid.uuid4().hex[:8]}'
    if args.database:
        args.keep = True
    workdir = Path(tempfile.mkdtemp(prefix='bench-public-'))
    modules = [m.strip() for m in args.modules.split(',') if m.strip()]
    print(f"bench_public: {args.elevators} elevators, modules "
        f"{', '.join(modules)}, PostgreSQL database {name}", flush=True)
    servers = []
    try:
        start = time.perf_counter()
        if args.database:
            codes = rescue_codes(name)
        else:
            create_database(name, modules, workdir)
            codes = load_registry(name, args.elevators, args.seed)
        print(f"set-up: {len(codes)} elevators with a rescue code in "
            f"{time.perf_counter() - start:.0f} s", flush=True)

        # Baseline: bare WSGI hello-JSON.
        port = free_port()
        serving = {'worker_class': args.worker_class,
            'threads': args.threads}
        hello = Gunicorn('bench_public:hello_app', port,
            workdir / 'hello.log', chdir=ROOT / 'bench', **serving)
        servers.append(hello)
        hello_url = f'http://127.0.0.1:{port}/'
        hello.wait(hello_url)
        run_wrk(wrk, hello_url, 5, args.connections)
        base = run_wrk(wrk, hello_url, args.duration, args.connections)
        hello.stop()

        # The card API under trytond: as configured by default (each
        # process keeps the cards it served for 30 s), then with that
        # cache off, so that every request runs the card's query.
        results = {}
        for label, cache in [('cached', ''), ('uncached',
                    'card_cache_size = 0\n')]:
            conf = workdir / f'trytond-{label}.conf'
            conf.write_text(f'[database]\nuri = {database_uri()}\n'
                '[elevator_public]\n'
                # High enough for the load, so that the limiter runs but
                # refuses nothing.
                'read_per_minute = 1000000000\n' + cache)
            env = {**os.environ, 'TRYTOND_CONFIG': str(conf),
                'TRYTOND_DATABASE_NAMES': name}
            env.pop('TRYTOND_DATABASE_URI', None)
            port = free_port()
            trytond = Gunicorn('trytond.application:app', port,
                workdir / f'trytond-{label}.log', env=env, **serving)
            servers.append(trytond)
            api = f'http://127.0.0.1:{port}/{name}/elevator/public/v1'
            trytond.wait(f'{api}/elevators/{codes[0]}')
            with urllib.request.urlopen(
                    f'{api}/elevators/{codes[-1]}') as answer:
                sample = json.load(answer)
            assert sample['rescue_code'] == codes[-1], sample
            script = card_script(workdir / 'card.lua', name, codes)
            run_wrk(wrk, f'http://127.0.0.1:{port}', 5, args.connections,
                script)
            results[label] = run_wrk(wrk, f'http://127.0.0.1:{port}',
                args.duration, args.connections, script)
            trytond.stop()
        card = results['cached']
    finally:
        for server in servers:
            server.stop()
        if not args.keep:
            from elevator_platform import scratch_db
            try:
                scratch_db.drop_database(name)
            except Exception as exception:
                print(f"could not drop {name}: {exception}", file=sys.stderr)
        shutil.rmtree(workdir, ignore_errors=True)

    print()
    print(f"load      wrk -t2 -c{args.connections} -d{args.duration}s "
        f"--latency, gunicorn 2 {args.worker_class} workers"
        + (f" x {args.threads} threads" if args.worker_class == 'gthread'
            else '') + ", loopback")
    for label, figures in [('baseline  bare WSGI hello-JSON', base),
            ('card      GET …/public/v1/elevators/{code}', card),
            ('card      same, card cache off (every request queries)',
                results['uncached'])]:
        print(f"{label}: {figures['rps']:8.0f} requests/s, "
            f"p50 {figures['p50']:6.1f} ms, p99 {figures['p99']:6.1f} ms, "
            f"{figures['requests']} requests, {figures['non_2xx']} non-2xx"
            + (f", socket errors {figures['socket_errors']}"
                if figures['socket_errors'] else ''))
    print(f"machine   load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores at the end")
    ratio = card['rps'] / base['rps']
    rps_ok = card['rps'] >= TARGET_RPS
    p99_ok = card['p99'] < TARGET_P99_MS
    ok_answers = all(r['non_2xx'] == 0 for r in results.values())
    print(f"ratio     card / baseline = {ratio:.2f}")
    print(f"target    card >= {TARGET_RPS} requests/s: "
        f"{'PASS' if rps_ok else 'FAIL'}")
    print(f"target    card p99 < {TARGET_P99_MS} ms: "
        f"{'PASS' if p99_ok else 'FAIL'}")
    print(f"check     every card answer a 200: "
        f"{'PASS' if ok_answers else 'FAIL'}")
    return 0 if rps_ok and p99_ok and ok_answers else 1


if __name__ == '__main__':
    sys.exit(main())
