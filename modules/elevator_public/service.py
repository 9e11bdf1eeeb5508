"""The public supervision service, without HTTP: find an elevator by its
rescue code or public token, build its public card, list its recent
maintenance, take submissions and ratings, follow a submission, list the
articles and the maintenance units' published grades.

Everything that leaves is built here from an explicit list of published
columns (whitelists), never by serialising records: no person's name or
phone can leak by a field added to a model later. Runs as root inside the
route's transaction with narrow SQL queries (see docs/public-api.md).
"""
import base64
import binascii
import datetime as dt
import hashlib
import hmac
import io
import secrets
import threading

from sql import Literal, Null
from sql.aggregate import Count
from sql.conditionals import Coalesce
from sql.operators import Exists

from trytond.i18n import gettext
from trytond.transaction import Transaction

from trytond.modules.elevator.web.http import HTTPError
from trytond.modules.elevator.web.text import (
    TextError, clean_text, last_digits, normalise_phone)

from .feedback import PHOTOS_MAX, TEXT_MAX, TYPE_CODES
from .rating import COMMENT_MAX

LANGUAGES = ('zh_CN', 'en')
DEFAULT_LANGUAGE = 'zh_CN'
MAINTENANCE_DONE = ['done', 'confirmed']
# A half-monthly gap over 15 days is overdue (TSG T5002, DESIGN §7).
# Without a rule of the maintenance module (the card asks the rules).
MAINTENANCE_GAP = dt.timedelta(days=15)
MAINTENANCE_LIST = 10
# Repair orders shown: newest first, on the card and on the records page.
CARD_REPAIRS = 5
REPAIR_LIST = 10
REPAIR_HIDDEN = ['cancelled']
CODE_MAX = 64
PHOTO_MAX_BYTES = 2 * 1024 * 1024
PHOTO_MAX_SIDE = 1600
FOLLOW_DIGITS = 4

SAFETY_STATUSES = ['normal', 'attention', 'warning', 'out_of_service']
SAFETY_NOTES = [
    'not_in_use', 'inspection_overdue', 'inspection_unqualified',
    'inspection_due_soon', 'inspection_unknown', 'maintenance_overdue',
    'no_maintenance_record', 'critical_fault',
    ]
_WARNING_NOTES = {'inspection_overdue', 'inspection_unqualified',
    'critical_fault'}

_labels = {}
_labels_lock = threading.Lock()


def msg(name, **kwargs):
    return gettext(f'elevator_public.msg_{name}', **kwargs)


def field_error(field, reason, **kwargs):
    "422 for a field: reason is 'required', 'too_long' or 'invalid'."
    return HTTPError(422, f'{reason}_field',
        msg(f'field_{reason}', field=msg(f'label_{field}'), **kwargs),
        field=field)


def get_model(pool, name):
    "The model if its module is activated in this database, else None."
    try:
        return pool.get(name)
    except KeyError:
        return None


def _labels_key(pool, language):
    return (pool.database_name, language, id(pool.get('elevator.elevator')))


def labels(pool, language):
    """Translated selection labels and status texts, computed once per
    database and language (they change only with a module update)."""
    key = _labels_key(pool, language)
    cached = _labels.get(key)
    if cached is not None:
        return cached
    with Transaction().set_context(language=language):
        Elevator = pool.get('elevator.elevator')
        Feedback = pool.get('elevator.public.feedback')
        Article = pool.get('elevator.knowledge.article')
        definitions = Elevator.fields_get(['category',
                'last_inspection_conclusion', 'inspection_status', 'state'])
        result = {name: dict(definitions[name]['selection'])
            for name in definitions}
        definitions = Feedback.fields_get(['type', 'state', 'resolution'])
        result.update({f'feedback_{name}': dict(definitions[name]['selection'])
                for name in definitions})
        result['article_category'] = dict(
            Article.fields_get(['category'])['category']['selection'])
        Order = get_model(pool, 'elevator.maintenance.order')
        if Order is not None:
            definitions = Order.fields_get(['type', 'state'])
            result['maintenance_type'] = dict(
                definitions['type']['selection'])
            result['maintenance_state'] = dict(
                definitions['state']['selection'])
        Repair = get_model(pool, 'elevator.repair.order')
        if Repair is not None:
            definitions = Repair.fields_get(['source', 'state'])
            result['repair_source'] = dict(
                definitions['source']['selection'])
            result['repair_state'] = dict(definitions['state']['selection'])
        result['safety_status'] = {s: msg(f'safety_{s}')
            for s in SAFETY_STATUSES}
        result['safety_note'] = {n: msg(f'note_{n}') for n in SAFETY_NOTES}
    with _labels_lock:
        _labels[key] = result
    return result


def is_rescue_code(code):
    return code.isdigit() and len(code) <= 12


def _valid_code(code):
    return (isinstance(code, str) and 0 < len(code) <= CODE_MAX
        and all(c.isalnum() or c in '-_' for c in code)
        and code.isascii())


def find_elevator(pool, code):
    """Id of the elevator of the code (Elevator.find_by_code), or None.
    The public only knows the codes shown in the car, as the card: the
    rescue code and the token of the QR code."""
    if not _valid_code(code):
        return None
    elevator = pool.get('elevator.elevator').find_by_code(code)
    if elevator and code in (elevator.rescue_code, elevator.public_token):
        return elevator.id
    return None


def _card_query(pool, code):
    Elevator = pool.get('elevator.elevator')
    Place = pool.get('elevator.place')
    Region = pool.get('elevator.region')
    Party = pool.get('party.party')
    elevator = Elevator.__table__()
    place = Place.__table__()
    district = Region.__table__()
    user_unit = Party.__table__()
    maintenance_unit = Party.__table__()
    query = (elevator
        .join(place, 'LEFT', condition=elevator.place == place.id)
        .join(district, 'LEFT', condition=elevator.district == district.id)
        .join(user_unit, 'LEFT',
            condition=elevator.user_unit == user_unit.id)
        .join(maintenance_unit, 'LEFT',
            condition=elevator.maintenance_unit == maintenance_unit.id))
    columns = [
        elevator.id, elevator.registration_code, elevator.rescue_code,
        elevator.certificate_number, elevator.category, elevator.state,
        elevator.building,
        elevator.has_video, elevator.last_inspection_date,
        elevator.last_inspection_conclusion, elevator.next_inspection_date,
        elevator.inspection_status,
        place.name, district.name,
        user_unit.name, user_unit.public_phone,
        maintenance_unit.name, maintenance_unit.public_phone,
        ]
    names = ['id', 'registration_code', 'rescue_code', 'certificate_number',
        'category', 'state',
        'building', 'has_video', 'last_inspection_date',
        'last_inspection_conclusion', 'next_inspection_date',
        'inspection_status', 'place', 'district', 'user_unit',
        'user_unit_phone', 'maintenance_unit', 'maintenance_unit_phone']

    Order = get_model(pool, 'elevator.maintenance.order')
    if Order is not None:
        order = Order.__table__()
        last = dict(
            where=(order.elevator == elevator.id)
            & order.state.in_(MAINTENANCE_DONE)
            & (order.check_out != Null),
            order_by=[order.check_out.desc], limit=1)
        columns += [order.select(order.check_out, **last),
            order.select(order.type, **last)]
        names += ['maintenance_at', 'maintenance_type']
        Rule = get_model(pool, 'elevator.maintenance.rule')
        if Rule is not None:
            # Overdue is the maintenance rules' to say: the longest
            # interval of half-monthly visits of the elevator's category
            # (or of every category), read when the card is asked for.
            rule = Rule.__table__()
            general = Rule.__table__()
            columns.append(Coalesce(
                    rule.select(rule.max_interval,
                        where=(rule.category == elevator.category)
                        & (rule.maintenance_type == 'half_monthly'),
                        limit=1),
                    general.select(general.max_interval,
                        where=(general.category == Null)
                        & (general.maintenance_type == 'half_monthly'),
                        limit=1)))
            names.append('maintenance_interval')
    Device = get_model(pool, 'elevator.iot.device')
    if Device is not None:
        # Monitored as elevator_iot defines it: a device heard within the
        # monitoring window, not merely registered.
        columns.append(elevator.id.in_(Elevator.monitored_query(live=True)))
        names.append('remote_monitoring')
    Status = get_model(pool, 'elevator.iot.status')
    if Status is not None:
        status = Status.__table__()
        columns.append(status.select(status.online,
                where=status.elevator == elevator.id, limit=1))
        names.append('online')
    Event = get_model(pool, 'elevator.iot.event')
    if Event is not None and 'reaction' in Event._fields:
        event = Event.__table__()
        columns.append(Exists(event.select(Literal(1),
                    where=(event.elevator == elevator.id)
                    & (event.state == 'open')
                    & (event.reaction == 'critical'))))
        names.append('critical_fault')
    column = elevator.rescue_code if is_rescue_code(code) else (
        elevator.public_token)
    return query.select(*columns, where=column == code, limit=1), names


_card_sql = {}
_CODE = '\x00code\x00'


def _compiled_card_query(pool, code):
    """SQL text, parameters (with the code's place) and column names of the
    card query, built once per database and kind of code: the card is the
    hot path and python-sql's rendering costs more than the query."""
    key = (pool.database_name, is_rescue_code(code))
    # Keyed on the class too: activating a module rebuilds the pool's
    # classes, and the query then has other columns.
    generation = id(pool.get('elevator.elevator'))
    compiled = _card_sql.get(key)
    if compiled is None or compiled[0] != generation:
        query, names = _card_query(pool, '1' if key[1] else 'x')
        query.where.right = _CODE
        sql, params = tuple(query)
        params = list(params)
        compiled = _card_sql[key] = (
            generation, sql, params, params.index(_CODE), names)
    return compiled[1:]


def card(pool, code, language=DEFAULT_LANGUAGE, today=None):
    """The public card of the elevator with this rescue code or public
    token, as a dict of published fields only; None when unknown."""
    if not _valid_code(code):
        return None
    sql, params, index, names = _compiled_card_query(pool, code)
    params = list(params)
    params[index] = code
    cursor = Transaction().connection.cursor()
    cursor.execute(sql, params)
    row = cursor.fetchone()
    if row is None:
        return None
    label = labels(pool, language)
    result = _card(dict(zip(names, row)), label, today)
    repair_sql = _compiled_repair_query(pool)
    if repair_sql[0] is not None:
        cursor.execute(*_repair_params(repair_sql, row[0]))
        result['repairs'] = repair_items(cursor.fetchall(), label)
    return result


def fast_card(pool, code, language=DEFAULT_LANGUAGE):
    """card() for the hot path of the API: on PostgreSQL, the query runs on
    a read-only autocommit connection kept by the serving thread, without
    a Tryton transaction (whose start checks out and tests a pooled
    connection, two round trips to the server); the SQL text and the
    labels come from caches filled once inside a Tryton transaction.
    Falls back to card() in a transaction elsewhere or on any trouble with
    the connection."""
    if not _valid_code(code):
        return None
    database = pool.database_name
    key = (database, is_rescue_code(code))
    label = _labels.get(_labels_key(pool, language))
    connections = _read_connections.get(database)
    if (connections is None or key not in _card_sql or label is None
            or _card_sql[key][0] != id(pool.get('elevator.elevator'))
            or _repair_sql.get(database, (None,))[0] != id(
                pool.get('elevator.elevator'))):
        from trytond import backend
        with Transaction().start(database, 0, readonly=True,
                autocommit=True, context={'language': language}):
            result = card(pool, code, language)
        if backend.name == 'postgresql':
            _read_connections.setdefault(database,
                _ReadConnections(database))
        return result
    _, sql, params, index, names = _card_sql[key]
    params = list(params)
    params[index] = code
    repair_sql = _repair_sql[database][1:]
    repairs = None
    connection = connections.get()
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
            if row is not None and repair_sql[0] is not None:
                cursor.execute(*_repair_params(repair_sql, row[0]))
                repairs = cursor.fetchall()
    except Exception:
        connection.close()
        raise
    connections.put(connection)
    if row is None:
        return None
    result = _card(dict(zip(names, row)), label, None)
    if repairs is not None:
        result['repairs'] = repair_items(repairs, label)
    return result


_repair_sql = {}
_ELEVATOR = '\x00elevator\x00'


def _repair_query(Repair, elevator_id, limit):
    "Published columns of the elevator's repair orders, newest first."
    repair = Repair.__table__()
    return repair.select(repair.reported_at, repair.source, repair.urgent,
        repair.state, repair.check_out,
        where=(repair.elevator == elevator_id)
        & ~repair.state.in_(REPAIR_HIDDEN),
        order_by=[repair.reported_at.desc, repair.id.desc], limit=limit)


def _compiled_repair_query(pool):
    """(SQL text, parameters, index of the elevator's place) of the card's
    repair records, built once per database like the card query; (None,
    None, None) when the maintenance module is not activated."""
    generation = id(pool.get('elevator.elevator'))
    compiled = _repair_sql.get(pool.database_name)
    if compiled is None or compiled[0] != generation:
        Repair = get_model(pool, 'elevator.repair.order')
        if Repair is None:
            compiled = (generation, None, None, None)
        else:
            sql, params = tuple(_repair_query(Repair, _ELEVATOR,
                    CARD_REPAIRS))
            params = list(params)
            compiled = (generation, sql, params, params.index(_ELEVATOR))
        _repair_sql[pool.database_name] = compiled
    return compiled[1:]


def _repair_params(compiled, elevator_id):
    sql, params, index = compiled
    params = list(params)
    params[index] = elevator_id
    return sql, params


def repair_items(rows, label):
    """What the public sees of repair orders: the day reported (Putian
    time), the kind (source, urgent), the state and the day done; no
    technician, no description."""
    from trytond.modules.elevator_maintenance.common import local_date
    items = []
    for reported_at, source, urgent, state, check_out in rows:
        items.append({
                'date': _iso(local_date(reported_at)),
                'kind': source,
                'kind_name': label.get('repair_source', {}).get(
                    source, source),
                'urgent': bool(urgent),
                'state': state,
                'state_name': label.get('repair_state', {}).get(
                    state, state),
                'done_date': _iso(local_date(check_out)),
                })
    return items


def repairs(pool, elevator_id, language=DEFAULT_LANGUAGE,
        limit=REPAIR_LIST):
    """Recent repair orders of the elevator (not cancelled), newest
    first; None when the maintenance module is not activated."""
    Repair = get_model(pool, 'elevator.repair.order')
    if Repair is None:
        return None
    cursor = Transaction().connection.cursor()
    cursor.execute(*_repair_query(Repair, elevator_id, limit))
    return repair_items(cursor.fetchall(), labels(pool, language))


class _ReadConnections:
    """Read-only autocommit connections to one PostgreSQL database, kept
    by the process between requests (whatever thread serves them)."""
    size = 8

    def __init__(self, database):
        self.database = database
        self._idle = []
        self._lock = threading.Lock()

    def get(self):
        with self._lock:
            while self._idle:
                connection = self._idle.pop()
                if not connection.closed and not connection.broken:
                    return connection
        import psycopg
        from trytond import backend
        params = backend.Database._connection_params(self.database)
        connection = psycopg.connect(params.pop('conninfo'),
            autocommit=True, **params)
        connection.read_only = True
        return connection

    def put(self, connection):
        with self._lock:
            if len(self._idle) < self.size and not connection.closed:
                self._idle.append(connection)
                return
        connection.close()


_read_connections = {}


def _card(row, label, today):
    today = today or dt.date.today()
    maintenance_known = 'maintenance_at' in row
    last_maintenance = None
    if row.get('maintenance_at'):
        type_ = row['maintenance_type']
        last_maintenance = {
            'date': row['maintenance_at'].date().isoformat(),
            'type': type_,
            'type_name': label.get('maintenance_type', {}).get(type_, type_),
            }
    remote = bool(row.get('remote_monitoring'))
    video = bool(row['has_video'])
    notes = safety_notes(row, today, maintenance_known)
    status = safety_status(row['state'], notes)
    conclusion = row['last_inspection_conclusion']
    return {
        'registration_code': row['registration_code'],
        'rescue_code': row['rescue_code'],
        'certificate_number': row['certificate_number'] or None,
        'category': row['category'],
        'category_name': label['category'].get(row['category'], ''),
        'state': row['state'],
        'state_name': label['state'].get(row['state'], ''),
        'place': row['place'],
        'building': row['building'],
        'district': row['district'],
        'user_unit': _unit(row['user_unit'], row['user_unit_phone']),
        'maintenance_unit': _unit(row['maintenance_unit'],
            row['maintenance_unit_phone']),
        'last_maintenance': last_maintenance,
        'repairs': [],
        'inspection': {
            'last_date': _iso(row['last_inspection_date']),
            'conclusion': conclusion,
            'conclusion_name': label['last_inspection_conclusion'].get(
                conclusion) or None,
            'next_due_date': _iso(row['next_inspection_date']),
            'status': row['inspection_status'] or 'unknown',
            'status_name': label['inspection_status'].get(
                row['inspection_status'] or 'unknown', ''),
            },
        'monitored': remote or video,
        'remote_monitoring': remote,
        'video_monitoring': video,
        'online': row.get('online'),
        'safety_status': status,
        'safety_status_name': label['safety_status'][status],
        'safety_notes': [{'code': n, 'message': label['safety_note'][n]}
            for n in notes],
        }


def _unit(name, phone):
    if not name:
        return None
    return {'name': name, 'public_phone': phone or None}


def _iso(value):
    return value.isoformat() if value else None


def safety_notes(row, today, maintenance_known):
    if row['state'] != 'in_use':
        return ['not_in_use']
    notes = []
    if row['inspection_status'] == 'overdue':
        notes.append('inspection_overdue')
    if row['last_inspection_conclusion'] == 'unqualified':
        notes.append('inspection_unqualified')
    if row.get('critical_fault'):
        notes.append('critical_fault')
    if row['inspection_status'] == 'due_soon':
        notes.append('inspection_due_soon')
    elif row['inspection_status'] in {None, 'unknown'}:
        notes.append('inspection_unknown')
    if maintenance_known:
        last = row.get('maintenance_at')
        if not last:
            notes.append('no_maintenance_record')
        elif today - last.date() > (
                dt.timedelta(days=row['maintenance_interval'])
                if row.get('maintenance_interval') else MAINTENANCE_GAP):
            notes.append('maintenance_overdue')
    return notes


def safety_status(state, notes):
    if state != 'in_use':
        return 'out_of_service'
    if _WARNING_NOTES & set(notes):
        return 'warning'
    if notes:
        return 'attention'
    return 'normal'


def maintenance(pool, elevator_id, language=DEFAULT_LANGUAGE,
        limit=MAINTENANCE_LIST):
    """Recent finished maintenance of the elevator (date, type, state),
    newest first; None when the maintenance module is not activated."""
    Order = get_model(pool, 'elevator.maintenance.order')
    if Order is None:
        return None
    label = labels(pool, language)
    order = Order.__table__()
    cursor = Transaction().connection.cursor()
    cursor.execute(*order.select(order.check_in, order.check_out,
            order.type, order.state,
            where=(order.elevator == elevator_id)
            & order.state.in_(MAINTENANCE_DONE) & (order.check_out != Null),
            order_by=[order.check_out.desc], limit=limit))
    items = []
    for check_in, check_out, type_, state in cursor:
        minutes = None
        if check_in and check_out and check_out >= check_in:
            minutes = int((check_out - check_in).total_seconds() // 60)
        items.append({
                'date': check_out.date().isoformat(),
                'type': type_,
                'type_name': label['maintenance_type'].get(type_, type_),
                'state': state,
                'state_name': label['maintenance_state'].get(state, state),
                'duration_minutes': minutes,
                })
    return items


# Submissions

def client_key(pool, address):
    """Keyed hash of the client address: lets the rate limits count a
    client's submissions without storing the address."""
    Configuration = pool.get('elevator.configuration')
    salt = Configuration(1).public_salt
    if not salt:
        salt = secrets.token_hex(16)
        # Creates the configuration record when missing (and clears the
        # cached values of the singleton).
        Configuration.write([Configuration(1)], {'public_salt': salt})
    return hmac.new(salt.encode(), address.encode(),
        hashlib.sha256).hexdigest()[:32]


def _check_fields(data, allowed):
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise HTTPError(422, 'unknown_field',
            msg('field_unknown', field=unknown[0][:40]), field=unknown[0][:40])


def _text(data, field, max_length, required, multiline=False):
    try:
        return clean_text(data.get(field), max_length, required=required,
            multiline=multiline)
    except TextError as error:
        raise field_error(field, error.reason, max=max_length)


def _elevator(pool, data):
    code = data.get('elevator')
    if code is None or code == '':
        raise field_error('elevator', 'required')
    if not isinstance(code, str):
        raise field_error('elevator', 'invalid')
    elevator = find_elevator(pool, code.strip())
    if elevator is None:
        raise HTTPError(422, 'unknown_elevator', msg('elevator_unknown'),
            field='elevator')
    return elevator


def validate_feedback(pool, data, photos=None):
    """Check a submission of the public; return (values, photos) ready for
    Feedback.submit or raise HTTPError 422 naming the field."""
    _check_fields(data, ['type', 'elevator', 'contact_phone', 'text',
            'photos', 'urgent'])
    type_ = data.get('type')
    if type_ is None or type_ == '':
        raise field_error('type', 'required')
    if type_ not in TYPE_CODES:
        raise field_error('type', 'invalid')
    elevator = _elevator(pool, data)
    try:
        phone = normalise_phone(data.get('contact_phone'))
    except TextError as error:
        raise field_error('contact_phone', error.reason)
    text = _text(data, 'text', TEXT_MAX, True, multiline=True)
    urgent = data.get('urgent', False)
    if urgent is None:
        urgent = False
    if not isinstance(urgent, bool):
        raise field_error('urgent', 'invalid')
    if photos is None:
        raw = data.get('photos') or []
        if not isinstance(raw, list):
            raise field_error('photos', 'invalid')
        if len(raw) > PHOTOS_MAX:
            raise field_error('photos', 'too_long', max=PHOTOS_MAX)
        photos = []
        for item in raw:
            if not isinstance(item, str) or len(item) > (
                    PHOTO_MAX_BYTES * 4 // 3 + 8):
                raise field_error('photos', 'invalid')
            try:
                photos.append(base64.b64decode(item, validate=True))
            except (binascii.Error, ValueError):
                raise field_error('photos', 'invalid')
    elif len(photos) > PHOTOS_MAX:
        raise field_error('photos', 'too_long', max=PHOTOS_MAX)
    images = [(f'photo-{i}.jpg', clean_photo(data_))
        for i, data_ in enumerate(photos, 1)]
    return {
        'type': type_,
        'elevator': elevator,
        'contact_phone': phone,
        'text': text,
        'urgent': urgent and type_ == 'fault_report',
        }, images


def clean_photo(data):
    """Re-encode an uploaded photo as a JPEG of at most PHOTO_MAX_SIDE
    pixels, without its metadata (EXIF may hold the place and the phone
    model); refuse what is not a JPEG, PNG or WebP image."""
    from PIL import Image, UnidentifiedImageError
    if not data or len(data) > PHOTO_MAX_BYTES:
        raise field_error('photos', 'too_long', max=PHOTOS_MAX)
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in {'JPEG', 'PNG', 'WEBP'}:
                raise field_error('photos', 'invalid')
            if image.width * image.height > 40_000_000:
                raise field_error('photos', 'invalid')
            image.draft('RGB', (PHOTO_MAX_SIDE, PHOTO_MAX_SIDE))
            image = image.convert('RGB')
            image.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE))
            out = io.BytesIO()
            image.save(out, 'JPEG', quality=80, optimize=True)
            return out.getvalue()
    except HTTPError:
        raise
    except (UnidentifiedImageError, OSError, ValueError,
            Image.DecompressionBombError, SyntaxError):
        raise field_error('photos', 'invalid')


def check_submission_limits(pool, key, elevator, limits, now=None,
        type_=None):
    """Exact limits over the stored submissions (shared by every server
    process): per client key and per elevator within the last hour.

    A rescue request is never held back by the caps of the other
    submissions: it has its own, higher caps (`rescue_per_address_hour`,
    `rescue_per_elevator_hour`), and when the requests on one elevator
    pass the ordinary cap the dispatchers are alerted to the flood."""
    Feedback = pool.get('elevator.public.feedback')
    now = now or dt.datetime.now()
    since = now - dt.timedelta(hours=1)
    if type_ == 'rescue_request':
        if Feedback.count_recent(since, client_key=key,
                type_=type_) >= limits['rescue_per_address_hour']:
            raise HTTPError(429, 'rate_limited', msg('rate_limited'),
                headers={'Retry-After': '3600'})
        count = Feedback.count_recent(since, elevator=elevator, type_=type_)
        if count >= limits['rescue_per_elevator_hour']:
            raise HTTPError(429, 'rate_limited',
                msg('rate_limited_elevator'),
                headers={'Retry-After': '3600'})
        if count + 1 == limits['feedback_per_elevator_hour']:
            Feedback.alert_rescue_flood(elevator, count + 1)
        return
    if Feedback.count_recent(since, client_key=key,
            exclude_type='rescue_request') >= limits[
            'feedback_per_address_hour']:
        raise HTTPError(429, 'rate_limited', msg('rate_limited'),
            headers={'Retry-After': '3600'})
    if Feedback.count_recent(since, elevator=elevator,
            exclude_type='rescue_request') >= limits[
            'feedback_per_elevator_hour']:
        raise HTTPError(429, 'rate_limited', msg('rate_limited_elevator'),
            headers={'Retry-After': '3600'})


def submit_feedback(pool, values, images, channel, key):
    Feedback = pool.get('elevator.public.feedback')
    feedback = Feedback.submit({**values, 'channel': channel,
            'client_key': key}, images)
    return feedback


def feedback_public(pool, feedback, language=DEFAULT_LANGUAGE):
    "What the submitter sees when following: no phone, no internal notes."
    label = labels(pool, language)
    elevator = feedback.elevator
    return {
        'number': feedback.number,
        'type': feedback.type,
        'type_name': label['feedback_type'].get(feedback.type, ''),
        'state': feedback.state,
        'state_name': label['feedback_state'].get(feedback.state, ''),
        'elevator': {
            'rescue_code': elevator.rescue_code,
            'place': elevator.place.name if elevator.place else None,
            },
        'submitted_at': feedback.submitted_at,
        'deadline': feedback.deadline,
        'reply': feedback.reply if feedback.state in {
            'replied', 'closed'} else None,
        'replied_at': feedback.replied_at,
        'closed_at': feedback.closed_at,
        'resolution': feedback.resolution,
        'resolution_name': label['feedback_resolution'].get(
            feedback.resolution) or None,
        'photo_count': len(feedback.photos),
        'urgent': bool(feedback.urgent),
        'repair': repair_public(feedback, label),
        }


def repair_public(feedback, label):
    """The repair order a fault report was passed to, as the submitter
    follows it: number, state, deadline, when done; None without one."""
    repair = getattr(feedback, 'repair_order', None)
    if not repair:
        return None
    return {
        'number': repair.number,
        'state': repair.state,
        'state_name': label.get('repair_state', {}).get(
            repair.state, repair.state),
        'urgent': bool(repair.urgent),
        'deadline': repair.deadline,
        'overdue': bool(repair.overdue),
        'done_at': repair.check_out,
        }


def follow(pool, number, digits):
    """The submission with this number if digits are the last four digits
    of its contact phone, else None (same answer for both, so that a
    number cannot be probed)."""
    Feedback = pool.get('elevator.public.feedback')
    if not (isinstance(number, str) and 0 < len(number) <= 32
            and number.isascii() and number.isalnum()):
        return None
    if not (isinstance(digits, str) and len(digits) == FOLLOW_DIGITS
            and digits.isdigit()):
        return None
    feedbacks = Feedback.search([('number', '=', number.upper())], limit=1)
    if not feedbacks or not feedbacks[0].matches_phone(digits):
        return None
    return feedbacks[0]


def validate_rating(pool, data):
    _check_fields(data, ['elevator', 'score_maintenance', 'score_user_unit',
            'comment'])
    elevator = _elevator(pool, data)
    values = {'elevator': elevator}
    for field in ['score_maintenance', 'score_user_unit']:
        value = data.get(field)
        if value is None or value == '':
            raise field_error(field, 'required')
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if (isinstance(value, bool) or not isinstance(value, int)
                or not 1 <= value <= 5):
            raise field_error(field, 'invalid')
        values[field] = value
    values['comment'] = _text(data, 'comment', COMMENT_MAX, False)
    return values


def submit_rating(pool, values, channel, key, now=None):
    Rating = pool.get('elevator.public.rating')
    Configuration = pool.get('elevator.configuration')
    now = now or dt.datetime.now()
    since = now - Configuration(1).rating_window
    if Rating.rated_recently(values['elevator'], key, since):
        raise HTTPError(429, 'already_rated', msg('already_rated'),
            headers={'Retry-After': str(int(
                        Configuration(1).rating_window.total_seconds()))})
    rating, = Rating.create([{**values, 'channel': channel,
                'client_key': key}])
    return rating


# Published information

def articles(pool, language=DEFAULT_LANGUAGE, with_body=False):
    Article = pool.get('elevator.knowledge.article')
    label = labels(pool, language)
    result = []
    for article in Article.search([('state', '=', 'published')]):
        item = {
            'id': article.id,
            'title': article.title,
            'category': article.category,
            'category_name': label['article_category'].get(
                article.category, ''),
            'summary': article.summary,
            'published_date': article.published_date,
            }
        if with_body:
            item['body'] = article.body
        result.append(item)
    return result


def article(pool, article_id, language=DEFAULT_LANGUAGE):
    Article = pool.get('elevator.knowledge.article')
    if not 0 < article_id < 2 ** 31:
        return None
    found = Article.search([
            ('id', '=', article_id),
            ('state', '=', 'published'),
            ], limit=1)
    if not found:
        return None
    article, = found
    label = labels(pool, language)
    return {
        'id': article.id,
        'title': article.title,
        'category': article.category,
        'category_name': label['article_category'].get(article.category, ''),
        'summary': article.summary,
        'published_date': article.published_date,
        'body': article.body,
        }


def units(pool, today=None):
    """Maintenance units with their published credit grade (from the
    assessment module when it is activated), the number of elevators they
    maintain and the public's ratings of the last 12 months."""
    Party = pool.get('party.party')
    Elevator = pool.get('elevator.elevator')
    Rating = pool.get('elevator.public.rating')
    today = today or dt.date.today()
    party = Party.__table__()
    elevator = Elevator.__table__()
    cursor = Transaction().connection.cursor()
    cursor.execute(*party.join(elevator, 'LEFT',
            condition=(elevator.maintenance_unit == party.id)
            & (elevator.state == 'in_use')
            ).select(party.id, party.name, party.public_phone,
            Count(elevator.id),
            where=(party.is_maintenance_unit == Literal(True))
            & (Coalesce(party.active, Literal(True)) == Literal(True)),
            group_by=[party.id, party.name, party.public_phone],
            order_by=[party.name.asc, party.id.asc]))
    rows = cursor.fetchall()
    ratings = Rating.aggregate(start=today - dt.timedelta(days=365))
    grades = credit_grades(pool)
    result = []
    for id_, name, phone, count in rows:
        grade = grades.get(id_)
        rating = ratings.get(id_)
        result.append({
                'name': name,
                'public_phone': phone or None,
                'elevators': count,
                'grade': grade[0] if grade else None,
                'grade_year': grade[1] if grade else None,
                'rating_count': rating['count'] if rating else 0,
                'rating_maintenance': (
                    rating['maintenance'] if rating else None),
                })
    return result


def credit_grades(pool):
    """{unit id: (grade, year)} of the latest published credit evaluation
    per unit; empty while the assessment module is not activated."""
    Evaluation = get_model(pool, 'elevator.credit.evaluation')
    if Evaluation is None:
        return {}
    evaluations = Evaluation.search([('published', '=', True)],
        order=[('year', 'ASC')])
    return {e.maintenance_unit.id: (e.grade, e.year) for e in evaluations
        if e.maintenance_unit}


def digits_of(value):
    return last_digits(value, FOLLOW_DIGITS)
