"""SMS providers of the notification outbox (elevator.notification).

Chosen by the server configuration, never by data (the keys are secrets):

    [elevator_sms]
    provider = aliyun | http | log | none   (default: none)
    # aliyun: the Alibaba Cloud SMS official SDK (Dysmsapi 2017-05-25)
    endpoint = dysmsapi.aliyuncs.com
    protocol = https
    access_key_id = ...
    access_key_secret = ...
    sign_name = 莆田96196
    # http: a generic gateway that takes a POST of JSON
    url = https://sms-gateway.example/send
    token = ...                      (sent as "Authorization: Bearer ...")
    timeout = 10                     (seconds, both)

Each provider's `send(phone, template, params, text, out_id)` returns the
provider's message id or raises SMSError; `retry` on the error says
whether another attempt may succeed."""
import json
import logging
import urllib.error
import urllib.request

from trytond import config

logger = logging.getLogger(__name__)
SECTION = 'elevator_sms'


class SMSError(Exception):
    def __init__(self, message, retry=True):
        super().__init__(message)
        self.retry = retry


def _get(name, default=None):
    return config.get(SECTION, name, default=default)


def _timeout():
    return float(_get('timeout', default=10))


class AliyunSMS:
    "Alibaba Cloud SMS through its official SDK (SendSms, RPC style)."

    def client(self):
        from alibabacloud_dysmsapi20170525.client import Client
        from alibabacloud_tea_openapi import models as openapi
        return Client(openapi.Config(
                access_key_id=_get('access_key_id'),
                access_key_secret=_get('access_key_secret'),
                endpoint=_get('endpoint', default='dysmsapi.aliyuncs.com'),
                protocol=_get('protocol', default='https')))

    def send(self, phone, template, params, text, out_id):
        from alibabacloud_dysmsapi20170525 import models
        from alibabacloud_tea_util import models as util
        if not template:
            raise SMSError("no SMS template code", retry=False)
        timeout = int(_timeout() * 1000)
        request = models.SendSmsRequest(
            phone_numbers=phone,
            sign_name=_get('sign_name'),
            template_code=template,
            template_param=json.dumps(params, ensure_ascii=False),
            out_id=str(out_id))
        try:
            # The outbox retries with its own back-off: one attempt here.
            response = self.client().send_sms_with_options(request,
                util.RuntimeOptions(autoretry=False, max_attempts=1,
                    read_timeout=timeout, connect_timeout=timeout))
        except Exception as exception:
            # The SDK raises on transport errors and HTTP statuses >= 400.
            raise SMSError(f"{type(exception).__name__}: {exception}"[:500])
        body = response.body
        if body.code != 'OK':
            # isv.* are refusals of this request (bad number, template,
            # parameters); throttling (BUSINESS_LIMIT_CONTROL) and the
            # provider's own errors may pass later.
            retry = (not (body.code or '').startswith('isv.')
                or body.code == 'isv.BUSINESS_LIMIT_CONTROL')
            raise SMSError(f"{body.code}: {body.message} "
                f"(RequestId {body.request_id})", retry=retry)
        return body.biz_id


class HTTPGateway:
    """A generic SMS gateway: POST {phone, template, params, text, out_id}
    as JSON, a 2xx answer with JSON {"id": ...} (or "message_id") is
    accepted."""

    def send(self, phone, template, params, text, out_id):
        url = _get('url')
        if not url:
            raise SMSError("no SMS gateway URL configured", retry=False)
        body = json.dumps({
                'phone': phone, 'template': template, 'params': params,
                'text': text, 'out_id': str(out_id),
                }, ensure_ascii=False).encode()
        headers = {'Content-Type': 'application/json'}
        if _get('token'):
            headers['Authorization'] = f"Bearer {_get('token')}"
        request = urllib.request.Request(url, data=body, headers=headers,
            method='POST')
        try:
            with urllib.request.urlopen(request, timeout=_timeout()) as r:
                raw = r.read()
        except urllib.error.HTTPError as error:
            raise SMSError(f"HTTP {error.code}",
                retry=error.code >= 500 or error.code == 429)
        except OSError as error:
            raise SMSError(str(error))
        try:
            answer = json.loads(raw or b'{}')
        except ValueError:
            answer = {}
        return str(answer.get('id') or answer.get('message_id') or '')


class LogSMS:
    "Writes the message to the server log (the demo)."

    def send(self, phone, template, params, text, out_id):
        # A warning, so that a server without -v shows it (the demo).
        logger.warning("SMS %s (log provider, not sent) to %s: %s",
            out_id, phone, text)
        return f'log-{out_id}'


class NoSMS:
    def send(self, phone, template, params, text, out_id):
        raise SMSError("no SMS provider configured", retry=False)


PROVIDERS = {
    'aliyun': AliyunSMS,
    'http': HTTPGateway,
    'log': LogSMS,
    'none': NoSMS,
    }


def provider():
    name = _get('provider', default='none') or 'none'
    try:
        return PROVIDERS[name]()
    except KeyError:
        raise SMSError(f"unknown SMS provider {name!r}", retry=False)
