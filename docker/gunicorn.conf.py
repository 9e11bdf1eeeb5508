"""gunicorn settings of the platform's WSGI processes, which serve trytond's
application `trytond.application:app` (JSON-RPC for sao, the sao files, the
HTTPS push API, the public API and H5 pages, the bus, the health endpoint).

Used by the `server` and `bus` containers (docker/compose.yaml) and by
`make prod-local` (scripts/prod-local.sh); every value comes from the
environment:

    ELEVATOR_WEB_BIND       address to listen on (default 0.0.0.0:8000)
    ELEVATOR_WEB_WORKERS    processes (default 2 x cores + 1)
    ELEVATOR_WEB_THREADS    threads per process (default 8); the bus's
                            long polls hold a thread each for up to 5 min
    ELEVATOR_WEB_TIMEOUT    seconds a silent worker is given (default 120)
    ELEVATOR_WEB_MAX_REQUESTS  requests before a worker is replaced
                            (default 5000; 0: never)
    ELEVATOR_WEB_FORWARDED_ALLOW_IPS  proxies trusted for X-Forwarded-*
                            (default 127.0.0.1; docker: the nginx network)

trytond loads the database pools named in TRYTOND_DATABASE_NAMES when the
application is imported. With preload_app the master does it once and then
closes its connections (trytond.application), and the workers share the
loaded code copy-on-write: a faster start and less memory per worker.
"""
import multiprocessing
import os


def _int(name, default):
    return int(os.environ.get(name) or default)


bind = os.environ.get('ELEVATOR_WEB_BIND', '0.0.0.0:8000').split(',')
workers = _int('ELEVATOR_WEB_WORKERS', 2 * multiprocessing.cpu_count() + 1)
worker_class = 'gthread'
threads = _int('ELEVATOR_WEB_THREADS', 8)
timeout = _int('ELEVATOR_WEB_TIMEOUT', 120)
graceful_timeout = 30
keepalive = 5
max_requests = _int('ELEVATOR_WEB_MAX_REQUESTS', 5000)
max_requests_jitter = max_requests // 10
preload_app = True
forwarded_allow_ips = os.environ.get(
    'ELEVATOR_WEB_FORWARDED_ALLOW_IPS', '127.0.0.1')
# Access log on stdout (the container's log); the client address is the
# proxy's, the forwarded one follows.
accesslog = '-'
errorlog = '-'
access_log_format = ('%(h)s fwd=%({x-forwarded-for}i)s "%(r)s" %(s)s %(b)s '
    '%(M)sms "%(a)s"')
# Request line and headers within reason (trytond bounds the bodies).
limit_request_line = 8190
proc_name = os.environ.get('ELEVATOR_WEB_NAME', 'elevator-web')
# gunicorn's control socket (gunicornc) is one path per user by default:
# several servers on one machine would take each other's. Off unless a
# path is given.
if os.environ.get('ELEVATOR_WEB_CONTROL_SOCKET'):
    control_socket = os.environ['ELEVATOR_WEB_CONTROL_SOCKET']
else:
    control_socket_disable = True
