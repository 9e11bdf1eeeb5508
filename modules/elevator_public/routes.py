"""HTTP routes of the public supervision service (DESIGN §5):

- JSON API under /{db}/elevator/public/v1/ (OpenAPI at …/openapi.json);
- H5 pages under /{db}/elevator/h5/ for phones.

Public requests have no login. They run as the root user (0) inside a
transaction opened by trytond's `with_transaction`, and only go through
service.py, whose queries name the published columns one by one and whose
answers are built from explicit whitelists (see docs/public-api.md for why
not a dedicated low-rights user). Rate limits per client address and per
elevator, body size limits and field validation come before any write.

Limits are read from the `[elevator_public]` section of the trytond
configuration (defaults below).
"""
import collections
import datetime as dt
import logging
import threading
import time
from functools import wraps
from zoneinfo import ZoneInfo

from trytond import backend, config
from trytond.exceptions import UserError, UserWarning
from trytond.protocols.wrappers import (
    allow_null_origin, redirect, set_max_request_size, with_pool,
    with_transaction)
from trytond.transaction import Transaction
from trytond.wsgi import app
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from trytond.modules.elevator.web.http import (
    SECURITY_HEADERS, HTTPError, client_address, json_error, json_response,
    read_json)
from trytond.modules.elevator.web.ratelimit import RateLimits

from . import service
from .feedback import PHOTOS_MAX
from .h5 import CSP, Page
from .openapi import openapi

logger = logging.getLogger(__name__)

API = '/<database_name>/elevator/public/v1'
H5 = '/<database_name>/elevator/h5'
JSON_BODY_MAX = 64 * 1024
FEEDBACK_BODY_MAX = PHOTOS_MAX * (service.PHOTO_MAX_BYTES * 4 // 3 + 64) + (
    JSON_BODY_MAX)
FORM_BODY_MAX = PHOTOS_MAX * (service.PHOTO_MAX_BYTES + 4096) + JSON_BODY_MAX
CARD_MAX_AGE = 60

# [elevator_public] option: (default, window in seconds)
LIMITS = {
    'read_per_minute': (120, 60),
    'write_per_hour': (10, 3600),
    'elevator_write_per_hour': (30, 3600),
    # Rescue requests: own, higher caps; never the ones above.
    'rescue_per_hour': (30, 3600),
    'rescue_elevator_per_hour': (300, 3600),
    'follow_per_hour': (30, 3600),
    }
_limits = None
# Configuration values per database, read at most once a minute: the card
# is the hot path and they change rarely.
_configurations = {}
CONFIGURATION_TTL = 60


class TTLCache:
    """A small LRU cache whose entries expire: the elevator cards served in
    the last CARD_CACHE_TTL seconds (less than the max-age the answer
    allows any cache on the way to keep it)."""

    def __init__(self, size, ttl):
        self.size, self.ttl = size, ttl
        self._data = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None
            if entry[0] < time.monotonic():
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return entry[1]

    def set(self, key, value):
        with self._lock:
            self._data[key] = (time.monotonic() + self.ttl, value)
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def clear(self):
        with self._lock:
            self._data.clear()


# [elevator_public] card_cache_size / card_cache_ttl: cards kept per
# process (0: none) and for how many seconds.
CARD_CACHE_SIZE = 20000
CARD_CACHE_TTL = 30
_cards = None


def cards():
    "The process' card cache, built from the configuration once."
    global _cards
    if _cards is None:
        _cards = TTLCache(
            config.getint('elevator_public', 'card_cache_size',
                default=CARD_CACHE_SIZE),
            config.getint('elevator_public', 'card_cache_ttl',
                default=CARD_CACHE_TTL))
    return _cards


def limit_values():
    return {name: config.getint('elevator_public', name, default=default)
        for name, (default, _) in LIMITS.items()}


def limits():
    "The process' rate limiters, built from the configuration once."
    global _limits
    if _limits is None:
        values = limit_values()
        _limits = RateLimits({name: (values[name], window)
                for name, (_, window) in LIMITS.items()})
    return _limits


def check_rate(request, *hits):
    """Count the request against the address limiter(s) given as names,
    or (name, key) for other keys (an elevator); 429 when over."""
    address = client_address(request)
    keys = [(h, ('address', address)) if isinstance(h, str) else h
        for h in hits]
    # with_transaction may run the handler again (to take a table lock or
    # after a serialisation failure): count each hit once per request.
    counted = request.environ.setdefault('elevator_public.counted', set())
    keys = [k for k in keys if k not in counted]
    counted.update(keys)
    allowed, retry_after = limits().check(*keys)
    if not allowed:
        raise HTTPError(429, 'rate_limited', service.msg('rate_limited'),
            headers={'Retry-After': str(retry_after)})


def language(request):
    "zh_CN unless the request asks for English (?lang=en or Accept-Language)."
    lang = request.args.get('lang')
    if lang in service.LANGUAGES:
        return lang
    if lang and lang.lower().startswith('en'):
        return 'en'
    best = request.accept_languages.best_match(['zh-CN', 'zh', 'en'])
    if best == 'en':
        return 'en'
    return service.DEFAULT_LANGUAGE


def timezone():
    return ZoneInfo(config.get('elevator_public', 'timezone',
            default='Asia/Shanghai'))


def local(value):
    "Stored timestamps are UTC: give them with the local offset."
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.timezone.utc).astimezone(
            timezone()).isoformat(timespec='seconds')
    return value


def activated(pool):
    return service.get_model(pool, 'elevator.public.feedback') is not None


def api(func):
    """Between with_pool and with_transaction: JSON errors for refusals,
    bad input and user errors; 404 when the module is not activated in
    the database; the transaction's language set from the request."""
    @wraps(func)
    def wrapper(request, pool, *args, **kwargs):
        if not activated(pool):
            return json_error(404, 'not_found', "Not Found")
        try:
            return func(request, pool, *args, **kwargs)
        except HTTPError as error:
            return error.response()
        except RequestEntityTooLarge:
            return json_error(413, 'too_large', "Request Entity Too Large")
        except (UserError, UserWarning) as error:
            return json_error(422, 'invalid', error.message)
        except backend.DatabaseOperationalError:
            logger.warning("database busy on %s", request.path,
                exc_info=True)
            return json_error(503, 'unavailable', "Service Unavailable",
                headers={'Retry-After': '1'})
        except Exception:
            # trytond would answer an HTML page (or fail reading the body
            # as JSON-RPC): keep the API's JSON errors.
            logger.exception("public API error on %s", request.path)
            return json_error(500, 'internal_error', "Internal Server Error")
    return wrapper


def in_language(func):
    "Inside the transaction: set its language from the request."
    @wraps(func)
    def wrapper(request, pool, *args, **kwargs):
        with Transaction().set_context(language=language(request)):
            return func(request, pool, *args, **kwargs)
    return wrapper


# JSON API

@app.route(API + '/openapi.json', methods=['GET'])
@allow_null_origin
@with_pool
@api
def api_openapi(request, pool):
    return json_response(openapi(pool.database_name), max_age=3600)


def read_only(func):
    """A read-only transaction in autocommit (no BEGIN, no COMMIT: two
    round trips to PostgreSQL fewer than with_transaction) for the hot
    read paths that only run SELECTs; language set from the request."""
    @wraps(func)
    def wrapper(request, pool, *args, **kwargs):
        with Transaction().start(pool.database_name, 0, readonly=True,
                autocommit=True, context={
                    '_request': request.context,
                    'language': language(request),
                    }):
            return func(request, pool, *args, **kwargs)
    return wrapper


@app.route(API + '/elevators/<code>', methods=['GET'])
@allow_null_origin
@with_pool
@api
def api_elevator(request, pool, code):
    # The hot path (bench/bench_public.py): see service.fast_card.
    lang = language(request)
    key = (pool.database_name, code, lang)
    cached = cards().get(key)
    if cached is not None:
        check_rate(request, 'read_per_minute')
        return json_response(cached, max_age=CARD_MAX_AGE)
    card = service.fast_card(pool, code, lang)
    hotline = _cached_configuration(pool.database_name)
    if card is None or hotline is None:
        with Transaction().start(pool.database_name, 0, readonly=True,
                autocommit=True, context={
                    '_request': request.context, 'language': lang}):
            check_rate(request, 'read_per_minute')
            if card is None:
                raise HTTPError(404, 'unknown_elevator', service.msg(
                        'elevator_unknown'))
            hotline = _configuration(pool)
    else:
        check_rate(request, 'read_per_minute')
    card['hotline'] = hotline['hotline']
    cards().set(key, card)
    return json_response(card, max_age=CARD_MAX_AGE)


@app.route(API + '/elevators/<code>/maintenance', methods=['GET'])
@allow_null_origin
@with_pool
@api
@with_transaction(readonly=True)
@in_language
def api_maintenance(request, pool, code):
    check_rate(request, 'read_per_minute')
    elevator = service.find_elevator(pool, code)
    if elevator is None:
        raise HTTPError(404, 'unknown_elevator', service.msg(
                'elevator_unknown'))
    items = service.maintenance(pool, elevator, Transaction().language)
    repairs = service.repairs(pool, elevator, Transaction().language)
    return json_response({
            'available': items is not None,
            'items': items or [],
            'repairs': repairs or [],
            }, max_age=CARD_MAX_AGE)


@app.route(API + '/feedback', methods=['POST'])
@allow_null_origin
@set_max_request_size(FEEDBACK_BODY_MAX)
@with_pool
@api
@with_transaction(readonly=False)
@in_language
def api_feedback(request, pool):
    data = read_json(request, FEEDBACK_BODY_MAX,
        service.msg('too_large'), service.msg('invalid_json'))
    check_rate(request, _write_limit(
            data.get('type') if isinstance(data, dict) else None))
    values, images = service.validate_feedback(pool, data)
    feedback = _submit(request, pool, values, images, 'api')
    return json_response(_followed(pool, feedback), status=201)


def _write_limit(type_):
    "The address limiter of a submission: rescue requests have their own."
    return 'rescue_per_hour' if type_ == 'rescue_request' else (
        'write_per_hour')


def _submit(request, pool, values, images, channel):
    rescue = values.get('type') == 'rescue_request'
    check_rate(request, (
            'rescue_elevator_per_hour' if rescue
            else 'elevator_write_per_hour',
            ('elevator', values['elevator'])))
    key = service.client_key(pool, client_address(request))
    configured = limit_values()
    service.check_submission_limits(pool, key, values['elevator'], {
            'feedback_per_address_hour': configured['write_per_hour'],
            'feedback_per_elevator_hour': configured[
                'elevator_write_per_hour'],
            'rescue_per_address_hour': configured['rescue_per_hour'],
            'rescue_per_elevator_hour': configured[
                'rescue_elevator_per_hour'],
            }, type_=values.get('type'))
    return service.submit_feedback(pool, values, images, channel, key)


def _followed(pool, feedback):
    data = service.feedback_public(pool, feedback, Transaction().language)
    for name in ['submitted_at', 'deadline', 'replied_at', 'closed_at']:
        data[name] = local(data[name])
    if data['repair']:
        for name in ['deadline', 'done_at']:
            data['repair'][name] = local(data['repair'][name])
    return data


@app.route(API + '/feedback/<number>', methods=['GET'])
@allow_null_origin
@with_pool
@api
@with_transaction(readonly=True)
@in_language
def api_follow(request, pool, number):
    check_rate(request, 'follow_per_hour')
    feedback = service.follow(pool, number, request.args.get('phone_last4'))
    if feedback is None:
        raise HTTPError(404, 'not_found', service.msg('follow_not_found'))
    return json_response(_followed(pool, feedback))


@app.route(API + '/ratings', methods=['POST'])
@allow_null_origin
@with_pool
@api
@with_transaction(readonly=False)
@in_language
def api_rating(request, pool):
    check_rate(request, 'write_per_hour')
    data = read_json(request, JSON_BODY_MAX,
        service.msg('too_large'), service.msg('invalid_json'))
    values = service.validate_rating(pool, data)
    rating = _rate(request, pool, values, 'api')
    return json_response({
            'elevator': data['elevator'].strip(),
            'score_maintenance': rating.score_maintenance,
            'score_user_unit': rating.score_user_unit,
            }, status=201)


def _rate(request, pool, values, channel):
    check_rate(request, ('elevator_write_per_hour',
            ('elevator', values['elevator'])))
    key = service.client_key(pool, client_address(request))
    return service.submit_rating(pool, values, channel, key)


@app.route(API + '/articles', methods=['GET'])
@allow_null_origin
@with_pool
@api
@with_transaction(readonly=True)
@in_language
def api_articles(request, pool):
    check_rate(request, 'read_per_minute')
    return json_response({'items': service.articles(
                pool, Transaction().language)}, max_age=300)


@app.route(API + '/articles/<article_id>', methods=['GET'])
@allow_null_origin
@with_pool
@api
@with_transaction(readonly=True)
@in_language
def api_article(request, pool, article_id):
    check_rate(request, 'read_per_minute')
    article = None
    if article_id.isdigit() and len(article_id) < 10:
        article = service.article(pool, int(article_id),
            Transaction().language)
    if article is None:
        raise HTTPError(404, 'not_found', service.msg('article_unknown'))
    return json_response(article, max_age=300)


@app.route(API + '/units', methods=['GET'])
@allow_null_origin
@with_pool
@api
@with_transaction(readonly=True)
@in_language
def api_units(request, pool):
    check_rate(request, 'read_per_minute')
    return json_response({'items': service.units(pool)}, max_age=300)


@app.route(API + '/<path:rest>',
    methods=['GET', 'POST', 'PUT', 'PATCH', 'DELETE'])
@allow_null_origin
@with_pool
@api
def api_not_found(request, pool, rest):
    "Anything else under the API: a JSON 404 (not trytond's HTML)."
    return json_error(404, 'not_found', "Not Found")


def _cached_configuration(database_name):
    cached = _configurations.get(database_name)
    if cached and cached[0] > time.monotonic():
        return cached[1]


def _configuration(pool):
    now = time.monotonic()
    cached = _configurations.get(pool.database_name)
    if cached and cached[0] > now:
        return cached[1]
    Configuration = pool.get('elevator.configuration')
    config_ = Configuration(1)
    values = {
        'hotline': config_.hotline,
        'authority': config_.authority_name,
        }
    _configurations[pool.database_name] = (now + CONFIGURATION_TTL, values)
    return values


# H5 pages

def html(body, status=200):
    response = Response(body, status=status,
        content_type='text/html; charset=utf-8')
    response.headers.update(SECURITY_HEADERS)
    response.headers['Content-Security-Policy'] = CSP
    # The pages link to each other: keep the referrer on this site only.
    response.headers['Referrer-Policy'] = 'same-origin'
    response.headers['Cache-Control'] = 'no-store'
    return response


def page(pool, database_name):
    values = _configuration(pool)
    return Page(f'/{database_name}/elevator/h5', values['authority'],
        values['hotline'])


def h5(func):
    """Between with_pool and with_transaction: HTML error pages; the
    transaction's language set from the request."""
    @wraps(func)
    def wrapper(request, pool, *args, **kwargs):
        if not activated(pool):
            return Response("Not Found", status=404)
        try:
            return func(request, pool, *args, **kwargs)
        except HTTPError as error:
            return _h5_error(request, pool, error)
        except RequestEntityTooLarge:
            return _h5_error(request, pool, HTTPError(413, 'too_large', ''))
    return wrapper


def _h5_error(request, pool, error):
    with Transaction().start(pool.database_name, 0, readonly=True), \
            Transaction().set_context(language=language(request)):
        message = error.message or service.msg('too_large')
        response = html(page(pool, pool.database_name).error(
                service.msg('h5_error_title'), message), status=error.status)
        response.headers.update(error.headers)
        return response


@app.route(H5 + '/', methods=['GET'])
@allow_null_origin
@with_pool
@h5
@with_transaction(readonly=True)
@in_language
def h5_home(request, pool):
    check_rate(request, 'read_per_minute')
    return html(page(pool, pool.database_name).home())


@app.route(H5 + '/search', methods=['GET'])
@allow_null_origin
@with_pool
@h5
@with_transaction(readonly=True)
@in_language
def h5_search(request, pool):
    check_rate(request, 'read_per_minute')
    code = (request.args.get('code') or '').strip()
    if code and service.find_elevator(pool, code) is not None:
        return redirect(page(pool, pool.database_name).url('e', code))
    return html(page(pool, pool.database_name).home(
            error=service.msg('elevator_unknown'), code=code[:64]),
        status=404 if code else 200)


def _card_or_404(pool, code):
    card = service.card(pool, code, Transaction().language)
    if card is None:
        raise HTTPError(404, 'unknown_elevator', service.msg(
                'elevator_unknown'))
    return card


@app.route(H5 + '/e/<code>', methods=['GET'])
@allow_null_origin
@with_pool
@h5
@with_transaction(readonly=True)
@in_language
def h5_card(request, pool, code):
    check_rate(request, 'read_per_minute')
    card = _card_or_404(pool, code)
    return html(page(pool, pool.database_name).card(code, card))


@app.route(H5 + '/e/<code>/maintenance', methods=['GET'])
@allow_null_origin
@with_pool
@h5
@with_transaction(readonly=True)
@in_language
def h5_maintenance(request, pool, code):
    check_rate(request, 'read_per_minute')
    elevator = service.find_elevator(pool, code)
    if elevator is None:
        raise HTTPError(404, 'unknown_elevator', service.msg(
                'elevator_unknown'))
    items = service.maintenance(pool, elevator, Transaction().language)
    repairs = service.repairs(pool, elevator, Transaction().language)
    return html(page(pool, pool.database_name).maintenance(code, items,
            repairs))


FORM_KINDS = {
    'complaint': 'complaint',
    'fault': 'fault_report',
    'rescue': 'rescue_request',
    'message': 'message',
    }


@app.route(H5 + '/e/<code>/<any(complaint,fault,rescue,message):kind>',
    methods=['GET', 'POST'])
@allow_null_origin
@set_max_request_size(FORM_BODY_MAX)
@with_pool
@h5
@with_transaction()
@in_language
def h5_feedback(request, pool, code, kind):
    type_ = FORM_KINDS[kind]
    label = service.labels(pool, Transaction().language)['feedback_type'][
        type_]
    p = page(pool, pool.database_name)
    if request.method == 'GET':
        check_rate(request, 'read_per_minute')
        if service.find_elevator(pool, code) is None:
            raise HTTPError(404, 'unknown_elevator', service.msg(
                    'elevator_unknown'))
        return html(p.feedback_form(code, kind, label))
    check_rate(request, _write_limit(type_))
    form = request.form
    values = {
        'contact_phone': form.get('contact_phone', ''),
        'text': form.get('text', ''),
        }
    if kind == 'fault':
        values['urgent'] = bool(form.get('urgent'))
    if form.get('website'):
        # The hidden trap field: a robot filled it in.
        raise HTTPError(422, 'invalid', service.msg('rejected'))
    photos = []
    for upload in request.files.getlist('photos'):
        if not upload.filename:
            continue
        data = upload.stream.read(service.PHOTO_MAX_BYTES + 1)
        if data:
            photos.append(data)
    try:
        valid, images = service.validate_feedback(pool, {
                'type': type_, 'elevator': code, **values}, photos=photos)
        feedback = _submit(request, pool, valid, images, 'h5')
    except HTTPError as error:
        if error.status != 422:
            raise
        Transaction().rollback()
        return html(p.feedback_form(code, kind, label, values,
                error=error.message), status=422)
    return redirect(p.url('submitted', feedback.number), code=303)


@app.route(H5 + '/submitted/<number>', methods=['GET'])
@allow_null_origin
@with_pool
@h5
@with_transaction(readonly=True)
@in_language
def h5_submitted(request, pool, number):
    check_rate(request, 'read_per_minute')
    Feedback = pool.get('elevator.public.feedback')
    found = Feedback.search([('number', '=', number[:32])], limit=1)
    if not found:
        raise HTTPError(404, 'not_found', service.msg('follow_not_found'))
    label = service.labels(pool, Transaction().language)['feedback_type']
    return html(page(pool, pool.database_name).submitted(found[0].number,
            label[found[0].type]))


@app.route(H5 + '/follow', methods=['GET', 'POST'])
@allow_null_origin
@with_pool
@h5
@with_transaction(readonly=True)
@in_language
def h5_follow(request, pool):
    p = page(pool, pool.database_name)
    if request.method == 'GET':
        check_rate(request, 'read_per_minute')
        return html(p.follow(number=(request.args.get('number') or '')[:32]))
    check_rate(request, 'follow_per_hour')
    number = (request.form.get('number') or '').strip()[:32]
    feedback = service.follow(pool, number,
        (request.form.get('phone_last4') or '').strip())
    if feedback is None:
        return html(p.follow(number=number,
                error=service.msg('follow_not_found')), status=404)
    return html(p.follow(number=number, result=_followed(pool, feedback)))


@app.route(H5 + '/e/<code>/rate', methods=['GET', 'POST'])
@allow_null_origin
@with_pool
@h5
@with_transaction()
@in_language
def h5_rate(request, pool, code):
    p = page(pool, pool.database_name)
    card = _card_or_404(pool, code)
    if request.method == 'GET':
        check_rate(request, 'read_per_minute')
        return html(p.rate_form(code, card))
    check_rate(request, 'write_per_hour')
    form = request.form
    values = {name: form.get(name, '') for name in [
            'score_maintenance', 'score_user_unit', 'comment']}
    if form.get('website'):
        raise HTTPError(422, 'invalid', service.msg('rejected'))
    try:
        valid = service.validate_rating(pool, {'elevator': code, **values})
        _rate(request, pool, valid, 'h5')
    except HTTPError as error:
        if error.status not in {422, 429}:
            raise
        Transaction().rollback()
        return html(p.rate_form(code, card, values, error=error.message),
            status=error.status)
    return html(p.rated(code))


@app.route(H5 + '/articles', methods=['GET'])
@allow_null_origin
@with_pool
@h5
@with_transaction(readonly=True)
@in_language
def h5_articles(request, pool):
    check_rate(request, 'read_per_minute')
    return html(page(pool, pool.database_name).articles(
            service.articles(pool, Transaction().language)))


@app.route(H5 + '/articles/<article_id>', methods=['GET'])
@allow_null_origin
@with_pool
@h5
@with_transaction(readonly=True)
@in_language
def h5_article(request, pool, article_id):
    check_rate(request, 'read_per_minute')
    article = None
    if article_id.isdigit() and len(article_id) < 10:
        article = service.article(pool, int(article_id),
            Transaction().language)
    if article is None:
        raise HTTPError(404, 'not_found', service.msg('article_unknown'))
    return html(page(pool, pool.database_name).article(article))


@app.route(H5 + '/units', methods=['GET'])
@allow_null_origin
@with_pool
@h5
@with_transaction(readonly=True)
@in_language
def h5_units(request, pool):
    check_rate(request, 'read_per_minute')
    return html(page(pool, pool.database_name).units(service.units(pool)))


@app.route(H5 + '/<path:rest>', methods=['GET', 'POST'])
@allow_null_origin
@with_pool
@h5
@with_transaction(readonly=True)
@in_language
def h5_not_found(request, pool, rest):
    raise HTTPError(404, 'not_found', service.msg('elevator_unknown'))
