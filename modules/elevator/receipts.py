"""Delivery receipts of the SMS provider (status reports):

    POST /{db}/elevator/api/v1/sms/receipts?token=...

The body is the provider's JSON list of reports, as Alibaba Cloud SMS
pushes them (SmsReport): `out_id` (the outbox row, sent as OutId),
`biz_id`, `success`, `err_code`, `err_msg`, `phone_number`, `report_time`.
The token is `[elevator_sms] receipt_token` of the server configuration
(the provider signs nothing: the address is the secret); without one set
the route refuses everything. Answer `{"code": 0, "msg": "成功"}` as the
provider expects; a sent row becomes `delivered` or `failed` (the failure
alerts the dispatchers)."""
import hmac
import json
import logging

from werkzeug.wrappers import Response

from trytond import config
from trytond.protocols.wrappers import (
    set_max_request_size, with_pool, with_transaction)
from trytond.wsgi import app

logger = logging.getLogger(__name__)
ROUTE = '/<database_name>/elevator/api/v1/sms/receipts'


def _answer(status, data):
    return Response(json.dumps(data, ensure_ascii=False), status=status,
        content_type='application/json; charset=utf-8',
        headers={'Cache-Control': 'no-store'})


@app.route(ROUTE, methods=['POST'])
@set_max_request_size(256 * 1024)
@with_pool
@with_transaction(readonly=False, user=0)
def sms_receipts(request, pool):
    expected = config.get('elevator_sms', 'receipt_token', default='')
    token = request.args.get('token', '')
    if not expected or not hmac.compare_digest(expected, token):
        return _answer(401, {'code': 401, 'msg': 'unauthorized'})
    try:
        reports = json.loads(request.get_data())
    except (ValueError, UnicodeDecodeError):
        return _answer(400, {'code': 400, 'msg': 'not JSON'})
    if isinstance(reports, dict):
        reports = [reports]
    if not isinstance(reports, list) or not all(
            isinstance(r, dict) for r in reports):
        return _answer(400, {'code': 400, 'msg': 'a list of reports'})
    Notification = pool.get('elevator.notification')
    done = Notification.receipt([{
                'out_id': r.get('out_id'),
                'provider_id': r.get('biz_id'),
                'success': r.get('success') in {True, 'true', 1, '1'},
                'error': ' '.join(filter(None, [
                            str(r.get('err_code') or ''),
                            str(r.get('err_msg') or '')])),
                } for r in reports])
    logger.info("SMS receipts: %s reports, %s rows", len(reports), len(done))
    return _answer(200, {'code': 0, 'msg': '成功'})
