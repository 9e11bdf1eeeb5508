"""`elevator simulate-calls`: the 96196 call centre's CTI middleware, for
the demo and for trying the integration.

Every `--interval` seconds a caller rings 96196, keys in the rescue code
of a random elevator in use (now and then a wrong one, or none), an agent
answers on `--extension`, and the call ends a little later; each step is a
signed event posted to `/{db}/elevator/api/v1/cti/events` exactly as the
real call centre sends it (docs/rescue.md). The rescue codes are read once
from the database (-c/-d, like the other tools)."""
import json
import logging
import random
import time
import urllib.error
import urllib.request
import uuid

from . import tryton_env

logger = logging.getLogger(__name__)


def add_parser(subparsers):
    parser = subparsers.add_parser('simulate-calls',
        help="ring 96196 now and then through the CTI API (demo)",
        description=__doc__.split('\n\n')[1])
    tryton_env.add_arguments(parser)
    parser.add_argument('--url', default='http://127.0.0.1:8000/',
        help="the platform's base URL (default: http://127.0.0.1:8000/)")
    parser.add_argument('--client-id', default='demo-call-centre')
    parser.add_argument('--secret', default='elevator-demo-cti')
    parser.add_argument('--extension', default='8001',
        help="agent extension that answers (default: 8001, the demo "
        "dispatcher's)")
    parser.add_argument('--interval', type=float, default=300,
        help="seconds between two calls (default: 300)")
    parser.add_argument('--talk', type=float, default=30,
        help="seconds a call lasts after it is answered (default: 30)")
    parser.add_argument('--count', type=int, default=0,
        help="number of calls, 0 for no end (default: 0)")
    parser.add_argument('--seed', type=int, default=None)
    parser.set_defaults(func=run)


def rescue_codes(args):
    with tryton_env.transaction(args.database, readonly=True,
            config_file=args.config) as pool:
        Elevator = pool.get('elevator.elevator')
        return [e.rescue_code for e in Elevator.search([
                    ('state', '=', 'in_use'),
                    ('rescue_code', '!=', None),
                    ], limit=500, order=[('id', 'ASC')])]


def post(url, client_id, secret, event):
    from trytond.modules.elevator_rescue.call import sign
    body = json.dumps(event, ensure_ascii=False).encode()
    timestamp = int(time.time())
    request = urllib.request.Request(url, data=body, method='POST',
        headers={
            'Content-Type': 'application/json',
            'X-CTI-Client': client_id,
            'X-CTI-Timestamp': str(timestamp),
            'X-CTI-Signature': sign(secret, timestamp, body),
            })
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read()[:500]


def run(args):
    logging.basicConfig(level=logging.INFO,
        format='%(asctime)s %(levelname)s %(message)s')
    rng = random.Random(args.seed)
    codes = rescue_codes(args)
    url = (args.url.rstrip('/') + f'/{args.database}'
        '/elevator/api/v1/cti/events')
    logger.info("calling %s with %d rescue codes every %ss", url,
        len(codes), args.interval)
    done = 0
    while not args.count or done < args.count:
        call_id = 'SIM-' + uuid.uuid4().hex[:12]
        roll = rng.random()
        digits = (rng.choice(codes) if codes and roll < 0.85
            else '000000' if roll < 0.93 else None)
        caller = '1' + rng.choice('3578') + ''.join(
            rng.choice('0123456789') for _ in range(9))
        steps = [
            ({'event': 'ringing', 'call_id': call_id,
                    'caller_number': caller, 'called_number': '96196',
                    **({'ivr_digits': digits} if digits else {})}, 3),
            ({'event': 'answered', 'call_id': call_id,
                    'agent_extension': args.extension}, args.talk),
            ({'event': 'ended', 'call_id': call_id,
                    'duration': int(args.talk)}, 0),
            ]
        for event, pause in steps:
            status, answer = post(url, args.client_id, args.secret, event)
            logger.info("%s %s -> %s %s", call_id, event['event'], status,
                answer)
            time.sleep(pause)
        done += 1
        if not args.count or done < args.count:
            time.sleep(args.interval)
    return 0
