"""HTTP routes of the manufacturers' push API (DESIGN §5):

    POST /{db}/elevator/api/v1/oauth/token
    POST /{db}/elevator/api/v1/push/{kind}/{registration_code}

Only declarations: the logic lives in push.py, the ingestion in ingest.py
(the same as the MQTT bridge's).
See docs/iot-protocol.md.

`set_max_request_size` bounds the body and also keeps trytond from taking
the client's HTTP Basic credentials for a Tryton login.
"""
from trytond.protocols.wrappers import (
    set_max_request_size, with_pool, with_transaction)
from trytond.wsgi import app

from . import push


@app.route(push.API + '/oauth/token', methods=['POST'])
@set_max_request_size(push.TOKEN_BODY_MAX)
@with_pool
@push.api
@with_transaction(readonly=False)
def oauth_token(request, pool):
    return push.issue_token(request, pool)


@with_transaction(readonly=True)
def _authorize(request, pool, kind, registration_code):
    return push.authorize(request, pool, kind, registration_code)


@app.route(push.API + '/push/<kind>/<registration_code>', methods=['POST'])
@set_max_request_size(push.BODY_HARD_MAX)
@with_pool
@push.api
def push_message(request, pool, kind, registration_code):
    # Who and for which device in a short read-only transaction; the
    # Ingestor then commits the message in its own.
    target = _authorize(request, pool, kind, registration_code)
    return push.deliver(request, pool, target)
