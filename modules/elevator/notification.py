"""The notification outbox (elevator.notification): every message the
platform sends to a person, by SMS, e-mail or in the client.

- `notify(event, audiences, params, ...)`: who gets what is data: the
  recipient rules (elevator.notification.rule) of the event name the
  audiences, the channel and the template; the caller says who is in each
  audience (Recipient values) and gives the template's parameters.
- `notify_users(entries)`: the in-client notifications every module sends
  (res.notification), recorded in the outbox as delivered.
- SMS and e-mail rows are queued and sent by Tryton's queue workers
  (`__queue__`), with the cron `send_queued` as fallback; a failed attempt
  is retried with a growing delay, the last failure alerts the dispatchers.
  A row is claimed ('sending') in a transaction of its own before the
  provider is called, so a worker killed mid-send never sends it again: a
  claim that never finished is failed by the cron as "outcome unknown",
  for a person to check."""
import datetime as dt
import json
import logging
import smtplib
from collections import defaultdict, namedtuple
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sql.operators import In

from trytond import config
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Index, ModelSQL, ModelView, Unique, fields)
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.sendmail import sendmail
from trytond.transaction import Transaction, without_check_access

from . import sms
from .common import Timestamp
from .privacy import mask_phone
from .workflow import WorkflowStateMixin

logger = logging.getLogger(__name__)

SECTION = 'elevator_notification'
CHANNELS = [
    ('sms', "SMS"),
    ('email', "E-mail"),
    ('client', "In-client"),
    ]
STATES = [
    ('queued', "Queued"),
    ('sending', "Sending"),
    ('sent', "Sent"),
    ('delivered', "Delivered"),
    ('failed', "Failed"),
    ]
AUDIENCES = [
    ('technicians', "On-duty Technicians"),
    ('firm_managers', "Maintenance Unit Managers"),
    ('district_regulators', "District Regulators"),
    ('fire', "Fire Rescue"),
    ('user_unit', "User Unit"),
    ('dispatchers', "Dispatchers"),
    ]

# Who a message goes to: a platform user (in-client, e-mail) and/or a
# phone number or e-mail address.
Recipient = namedtuple('Recipient', ['user', 'name', 'phone', 'email'],
    defaults=[None, None, None, None])


def _now():
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _setting(name, default):
    return type(default)(config.get(SECTION, name, default=default))


def retries():
    "Attempts of an SMS or e-mail before it fails."
    return _setting('attempts', 5)


def retry_delay(attempt):
    "Seconds before attempt + 1: 30 s, 60 s, 120 s ... (configurable)."
    return _setting('retry_delay', 30.0) * 2 ** (attempt - 1)


def channels():
    """The channels in use (`channels = sms,client` in a demo without a
    mail server): rules of the others make no message."""
    in_use = {c.strip() for c in _setting('channels', 'sms,email,client'
            ).split(',') if c.strip()}
    if (config.get(sms.SECTION, 'provider', default='none') or 'none'
            ) == 'none':
        # No SMS provider: no SMS rows (rather than one failure each).
        in_use.discard('sms')
    return in_use


def sending_timeout():
    "Seconds after which an unfinished claim counts as a dead worker."
    return _setting('sending_timeout', 300.0)


def sms_number(phone):
    """A phone number as SMS providers in China take it: digits only, a
    mainland number without its +86 (as the party module may format it)."""
    if not phone:
        return phone
    digits = ''.join(c for c in phone if c.isdigit())
    if phone.strip().startswith('+') and not digits.startswith('86'):
        return '+' + digits
    if digits.startswith('86') and len(digits) == 13:
        digits = digits[2:]
    return digits


class _Params(dict):
    def __missing__(self, key):
        return ''


def render(text, params):
    return (text or '').format_map(_Params(params))


def users_recipients(users):
    return [Recipient(user=u, name=u.name, email=u.email) for u in users]


def party_recipients(parties):
    "The mobile (else phone) and e-mail of each party."
    result = []
    with without_check_access():
        for party in parties:
            phone = party.mobile or party.phone
            if phone or party.email:
                result.append(Recipient(name=party.rec_name, phone=phone,
                        email=party.email))
    return result


class Template(ModelSQL, ModelView):
    "Notification Template"
    __name__ = 'elevator.notification.template'

    code = fields.Char("Code", required=True, strip=True)
    name = fields.Char("Name", required=True, translate=True)
    subject = fields.Char("Subject", required=True, translate=True,
        help="The e-mail subject and the in-client label; parameters in "
        "braces, e.g. {rescue_code}.")
    body = fields.Text("Body", required=True, translate=True,
        help="The SMS and e-mail text; parameters in braces: {elevator}, "
        "{place}, {rescue_code}, {link} and those of the event.")
    sms_template = fields.Char("SMS Template Code",
        help="The template registered with the SMS provider (e.g. "
        "SMS_123456789).")
    sms_params = fields.Char("SMS Template Parameters",
        help="Comma-separated parameters sent to the provider's template.")
    link = fields.Char("Link",
        help="The link to act, with {url} (the platform's address), {db}, "
        "{model} and {id}.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_unique', Unique(t, t.code),
                'elevator.msg_notification_template_code_unique'),
            ]

    def get_rec_name(self, name):
        return self.name


class Rule(DeactivableMixin, ModelSQL, ModelView):
    "Notification Recipient Rule"
    __name__ = 'elevator.notification.rule'

    event = fields.Char("Event", required=True, strip=True,
        help="What happened, as the modules name it (e.g. rescue_dispatch).")
    audience = fields.Selection(AUDIENCES, "Audience", required=True)
    channel = fields.Selection(CHANNELS, "Channel", required=True)
    template = fields.Many2One('elevator.notification.template', "Template",
        required=True, ondelete='RESTRICT')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.event, Index.Equality())))
        cls._order = [('event', 'ASC'), ('audience', 'ASC'), ('id', 'ASC')]


class Notification(WorkflowStateMixin, ModelSQL, ModelView):
    "Notification"
    __name__ = 'elevator.notification'

    event = fields.Char("Event", readonly=True)
    template = fields.Many2One('elevator.notification.template', "Template",
        readonly=True, ondelete='RESTRICT')
    channel = fields.Selection(CHANNELS, "Channel", required=True,
        readonly=True)
    state = fields.Selection(STATES, "State", required=True, readonly=True,
        sort=False)
    user = fields.Many2One('res.user', "User", readonly=True,
        ondelete='SET NULL')
    recipient = fields.Char("Recipient", readonly=True)
    address = fields.Char("Address", readonly=True, strip=False,
        help="Phone number or e-mail address: read by dispatch only.")
    address_masked = fields.Function(fields.Char("Address (masked)"),
        'get_address_masked')
    elevator = fields.Many2One('elevator.elevator', "Elevator",
        readonly=True, ondelete='SET NULL')
    origin = fields.Char("Origin", readonly=True,
        help="The record the message is about (model,id).")
    subject = fields.Char("Subject", readonly=True)
    body = fields.Text("Body", readonly=True)
    sms_template = fields.Char("SMS Template Code", readonly=True)
    sms_params = fields.Text("SMS Template Parameters", readonly=True)
    attempts = fields.Integer("Attempts", readonly=True)
    next_attempt_at = Timestamp("Next Attempt", readonly=True)
    sending_at = Timestamp("Sending Since", readonly=True)
    sent_at = Timestamp("Sent", readonly=True)
    delivered_at = Timestamp("Delivered", readonly=True)
    provider_id = fields.Char("Provider Message ID", readonly=True)
    error = fields.Text("Error", readonly=True,
        states={'invisible': ~Eval('error')})

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.state, Index.Equality()),
                    (t.next_attempt_at, Index.Range()),
                    where=In(t.state, ['queued', 'sending'])),
                Index(t, (t.provider_id, Index.Equality())),
                Index(t, (t.elevator, Index.Range())),
                })
        cls._order = [('id', 'DESC')]

    @classmethod
    def default_state(cls):
        return 'queued'

    @classmethod
    def default_attempts(cls):
        return 0

    def get_address_masked(self, name):
        with without_check_access():
            address = self.__class__(self.id).address
        if address and '@' in address:
            local, domain = address.split('@', 1)
            return f'{local[:1]}***@{domain}'
        return mask_phone(address)

    def get_rec_name(self, name):
        return f'{self.subject or ""} ({self.recipient or ""})'

    # --- making messages ---------------------------------------------------

    @classmethod
    def notify(cls, event, audiences, params, elevator=None, origin=None):
        """Queue the messages of event: for each active rule of the event,
        each recipient of its audience gets the rule's template on the
        rule's channel. audiences: {audience: [Recipient] or a callable
        returning them}; params: the template's parameters (elevator,
        place, rescue_code ... and the event's); origin: the record the
        message is about (its model and id fill the template's link).
        Returns the outbox rows."""
        pool = Pool()
        Rule = pool.get('elevator.notification.rule')
        with without_check_access():
            rules = Rule.search([('event', '=', event)])
        if not rules:
            return []
        resolved = {}
        vlist, seen = [], set()
        in_use = channels()
        for rule in rules:
            if rule.channel not in in_use:
                continue
            if rule.audience not in resolved:
                recipients = audiences.get(rule.audience) or []
                if callable(recipients):
                    recipients = recipients() or []
                resolved[rule.audience] = recipients
            for recipient in resolved[rule.audience]:
                if rule.channel == 'sms':
                    address = sms_number(recipient.phone)
                elif rule.channel == 'email':
                    address = recipient.email
                else:
                    address = None
                    if not recipient.user:
                        continue
                if rule.channel != 'client' and not address:
                    continue
                # One message per phone, address or user: the duty phone
                # may be a technician's own.
                key = (rule.channel, rule.template.id, address
                    or recipient.user.id)
                if key in seen:
                    continue
                seen.add(key)
                vlist.append(cls._message(event, rule, recipient, address,
                        params, elevator, origin))
        return cls._queue(vlist)

    @classmethod
    def _message(cls, event, rule, recipient, address, params, elevator,
            origin):
        pool = Pool()
        Template = pool.get('elevator.notification.template')
        Configuration = pool.get('elevator.configuration')
        user = recipient.user
        language = (user.language.code if user and user.language
            else Configuration(1).get_notification_language())
        with Transaction().set_context(language=language), \
                without_check_access():
            template = Template(rule.template.id)
            # Callable parameters are called in the recipient's language.
            values = {k: v() if callable(v) else v for k, v in params.items()}
            values['link'] = cls.link(template, origin)
            subject = render(template.subject, values)
            body = render(template.body, values)
            sms_params = {n.strip(): str(values.get(n.strip(), ''))
                for n in (template.sms_params or '').split(',') if n.strip()}
        return {
            'event': event,
            'template': template.id,
            'channel': rule.channel,
            'user': user.id if user else None,
            'recipient': recipient.name,
            'address': address,
            'elevator': int(elevator) if elevator else None,
            'origin': str(origin) if origin else None,
            'subject': subject,
            'body': body,
            'sms_template': template.sms_template,
            'sms_params': json.dumps(sms_params, ensure_ascii=False),
            }

    @classmethod
    def link(cls, template, origin):
        pool = Pool()
        Configuration = pool.get('elevator.configuration')
        if not template.link:
            return ''
        model, id_ = (str(origin).split(',', 1) if origin else ('', ''))
        return render(template.link, {
                'url': Configuration(1).get_platform_url(),
                'db': Transaction().database.name,
                'model': model, 'id': id_,
                })

    @classmethod
    def notify_users(cls, entries, event=None):
        """In-client notifications: entries [(user, model, record id(s),
        message, params)], each label in the user's language (callable
        parameters are called in it); one res.notification and one
        delivered outbox row each, in batched creates."""
        pool = Pool()
        ResNotification = pool.get('res.notification')
        languages = defaultdict(list)
        for entry in entries:
            user = entry[0]
            languages[user.language.code if user.language else None].append(
                entry)
        now = _now()
        vlist, outbox = [], []
        with Transaction().set_user(0), without_check_access():
            for language, items in languages.items():
                with Transaction().set_context(language=language):
                    for user, model, record_ids, message, params in items:
                        params = {k: v() if callable(v) else v
                            for k, v in params.items()}
                        if isinstance(record_ids, int):
                            record_ids = [record_ids]
                        label = gettext(message, **params)
                        vlist.append({
                                'user': user.id,
                                'label': label,
                                'model': model,
                                'records': json.dumps(record_ids),
                                'icon': 'tryton-notification',
                                })
                        outbox.append({
                                'event': event or message,
                                'channel': 'client',
                                'state': 'delivered',
                                'user': user.id,
                                'recipient': user.name,
                                'origin': (f'{model},{record_ids[0]}'
                                    if model and record_ids else None),
                                'subject': label,
                                'attempts': 1,
                                'sent_at': now,
                                'delivered_at': now,
                                })
            if vlist:
                ResNotification.create(vlist)
                cls.create(outbox)
        return vlist

    @classmethod
    def _queue(cls, vlist):
        "Create the rows; in-client ones are delivered now, others queued."
        pool = Pool()
        ResNotification = pool.get('res.notification')
        if not vlist:
            return []
        now = _now()
        for values in vlist:
            if values['channel'] == 'client':
                values.update({'state': 'delivered', 'attempts': 1,
                        'sent_at': now, 'delivered_at': now})
            else:
                values.update({'state': 'queued', 'next_attempt_at': now})
        with Transaction().set_user(0), without_check_access():
            records = cls.create(vlist)
            clients = [r for r in records if r.channel == 'client']
            if clients:
                ResNotification.create([{
                            'user': r.user.id,
                            'label': r.subject,
                            'description': r.body,
                            'model': (r.origin.split(',')[0]
                                if r.origin else None),
                            'records': (json.dumps(
                                    [int(r.origin.split(',')[1])])
                                if r.origin else None),
                            'icon': 'tryton-notification',
                            } for r in clients])
            outgoing = [r for r in records if r.channel != 'client']
            if outgoing:
                cls.__queue__.send(outgoing)
        return records

    # --- sending -------------------------------------------------------------

    @classmethod
    def send(cls, notifications):
        """Send the queued messages among notifications that are due (the
        queue task). Each is claimed in a transaction of its own, sent,
        and its outcome written in another."""
        for notification in notifications:
            # One at a time: a worker killed mid-send leaves one message
            # of unknown outcome, the others stay queued for the next.
            claimed = cls._claim([notification.id])
            if not claimed:
                continue
            row, = claimed
            result = cls._send_one(row)
            with Transaction().new_transaction() as transaction, \
                    without_check_access():
                cls.write([cls(row['id'])], result)
                if result['state'] == 'failed':
                    cls._alert_failed(cls.browse([row['id']]))
                transaction.commit()
            if result['state'] == 'queued':
                delay = max(result['next_attempt_at'] - _now(),
                    dt.timedelta(0))
                with Transaction().new_transaction() as transaction, \
                        Transaction().set_context(queue_scheduled_at=delay):
                    cls.__queue__.send(cls.browse([row['id']]))
                    transaction.commit()

    @classmethod
    def _claim(cls, ids):
        """Mark the due queued rows of ids 'sending' and commit: the row
        lock of the UPDATE lets one worker only have each. Returns the
        rows as read in that transaction."""
        table = cls.__table__()
        now = _now()
        columns = ['id', 'channel', 'address', 'subject', 'body',
            'sms_template', 'sms_params', 'attempts']
        if not ids:
            return []
        with Transaction().new_transaction() as transaction:
            cursor = transaction.connection.cursor()
            where = (In(table.id, list(ids))
                & (table.state == 'queued')
                & ((table.next_attempt_at == None)  # noqa: E711
                    | (table.next_attempt_at <= now)))
            if transaction.database.has_select_for():
                # Rows another worker is claiming are skipped, not waited.
                # A row another worker is claiming is skipped.
                For = transaction.database.get_select_for_skip_locked()
                cursor.execute(*table.select(table.id, where=where,
                        for_=For('UPDATE')))
            else:
                cursor.execute(*table.select(table.id, where=where))
            claimed = [r[0] for r in cursor]
            if not claimed:
                return []
            cursor.execute(*table.update(
                    [table.state, table.sending_at, table.attempts,
                        table.write_date],
                    ['sending', now, table.attempts + 1, now],
                    where=In(table.id, claimed)))
            cursor.execute(*table.select(
                    *[getattr(table, c) for c in columns],
                    where=In(table.id, claimed)))
            rows = [dict(zip(columns, r)) for r in cursor]
            transaction.commit()
        return rows

    @classmethod
    def _send_one(cls, row):
        now = _now()
        try:
            if row['channel'] == 'sms':
                provider_id = sms.provider().send(
                    row['address'], row['sms_template'],
                    json.loads(row['sms_params'] or '{}'),
                    row['body'], row['id'])
            else:
                provider_id = cls._send_email(row)
        except Exception as exception:
            retry = getattr(exception, 'retry', True)
            error = str(exception)[:1000] or type(exception).__name__
            logger.warning("notification %s attempt %s: %s",
                row['id'], row['attempts'], error)
            if retry and row['attempts'] < retries():
                return {
                    'state': 'queued', 'error': error, 'sending_at': None,
                    'next_attempt_at': now + dt.timedelta(
                        seconds=retry_delay(row['attempts'])),
                    }
            return {'state': 'failed', 'error': error, 'sending_at': None}
        return {'state': 'sent', 'sent_at': _now(), 'sending_at': None,
            'provider_id': provider_id or None, 'error': None}

    @classmethod
    def _send_email(cls, row):
        from_ = config.get(SECTION, 'from',
            default=config.get('email', 'from'))
        msg = EmailMessage()
        msg['From'] = from_
        msg['To'] = row['address']
        msg['Subject'] = row['subject']
        msg['Date'] = formatdate(localtime=True)
        msg_id = make_msgid(f'notification-{row["id"]}')
        msg['Message-ID'] = msg_id
        msg.set_content(row['body'] or '')
        try:
            sendmail(from_, [row['address']], msg, strict=True)
        except smtplib.SMTPRecipientsRefused as exception:
            raise sms.SMSError(str(exception), retry=False)
        return msg_id

    @classmethod
    def _alert_failed(cls, notifications):
        "A message that could not be delivered is an alert to dispatch."
        from trytond.modules.elevator.res import dispatcher_recipients
        for notification in notifications:
            with without_check_access():
                cls.notify('notification_failed', {
                        'dispatchers': dispatcher_recipients,
                        }, {
                        'recipient': notification.recipient or '',
                        'channel': (lambda c=notification.channel: dict(
                                cls.fields_get(['channel'])['channel'][
                                    'selection'])[c]),
                        'subject': notification.subject or '',
                        'error': notification.error or '',
                        'elevator': (notification.elevator.rec_name
                            if notification.elevator else ''),
                        }, elevator=notification.elevator,
                    origin=notification)

    @classmethod
    def send_queued(cls):
        """Cron: send what the queue did not (no worker, a task lost with
        a killed worker: trytond-worker marks a task dequeued when it takes
        it), and fail the claims of workers that died mid-send."""
        now = _now()
        stale = cls.search([
                ('state', '=', 'sending'),
                ('sending_at', '<',
                    now - dt.timedelta(seconds=sending_timeout())),
                ])
        if stale:
            cls.write(stale, {
                    'state': 'failed', 'sending_at': None,
                    'error': gettext('elevator.msg_notification_unknown'),
                    })
            cls._alert_failed(stale)
        due = cls.search([
                ('state', '=', 'queued'),
                ('next_attempt_at', '<=', now),
                ], order=[('next_attempt_at', 'ASC')], limit=1000)
        if not due:
            return
        if config.getboolean('queue', 'worker', default=False):
            # The workers send them (a task lost with a killed worker, a
            # queue emptied by hand); a row already in a task is claimed
            # by one of the two only.
            cls.__queue__.send(due)
        else:
            Transaction().commit()
            cls.send(due)

    # --- delivery receipts ---------------------------------------------------

    @classmethod
    def receipt(cls, reports):
        """Delivery receipts: [{out_id or provider_id, success, error,
        time}]; a message sent becomes delivered or failed."""
        now = _now()
        done = []
        for report in reports:
            domain = [('channel', '=', 'sms')]
            if report.get('out_id'):
                try:
                    domain.append(('id', '=', int(report['out_id'])))
                except (TypeError, ValueError):
                    continue
            elif report.get('provider_id'):
                domain.append(('provider_id', '=', report['provider_id']))
            else:
                continue
            records = cls.search(domain + [
                    ('state', 'in', ['sent', 'sending', 'queued'])])
            if not records:
                continue
            if report.get('success'):
                cls.write(records, {'state': 'delivered',
                        'delivered_at': now})
            else:
                cls.write(records, {'state': 'failed',
                        'error': str(report.get('error') or '')[:1000]})
                cls._alert_failed(records)
            done.extend(records)
        return done
