"""A local stand-in for the Alibaba Cloud SMS endpoint (Dysmsapi
2017-05-25, SendSms), speaking its protocol as the official SDK uses it: an
RPC-style POST / with the parameters in the query string, signed with
ACS3-HMAC-SHA256 (the signature is checked here with the same secret), and
a JSON answer {Code, Message, BizId, RequestId}.

Each request is recorded; `script` lists what the next requests get:
'ok', 'http500', a provider code such as 'isv.MOBILE_NUMBER_ILLEGAL', or
'hold' (the request waits until `release` is set, then gets OK)."""
import hashlib
import hmac
import json
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote


def canonical_query(pairs):
    return '&'.join(f'{k}={quote(v, safe="~")}'
        for k, v in sorted(pairs))


class SMSStandIn:
    def __init__(self, access_key_id, access_key_secret):
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.requests = []
        self.script = []
        self.lock = threading.Lock()
        self.held = threading.Event()
        self.release = threading.Event()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                stand_in.handle(self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_port
        self.endpoint = f'127.0.0.1:{self.port}'
        self.thread = threading.Thread(target=self.server.serve_forever,
            daemon=True)
        self.thread.start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def check_signature(self, request, url):
        headers = {k.lower(): v for k, v in request.headers.items()}
        authorization = headers.get('authorization', '')
        algorithm, _, rest = authorization.partition(' ')
        parts = dict(p.split('=', 1) for p in rest.split(',') if '=' in p)
        if (algorithm != 'ACS3-HMAC-SHA256'
                or parts.get('Credential') != self.access_key_id):
            return False
        signed = parts.get('SignedHeaders', '').split(';')
        canonical_headers = ''.join(
            f'{name}:{headers.get(name, "").strip()}\n' for name in signed)
        pairs = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
        canonical = '\n'.join([request.command, url.path or '/',
                canonical_query(pairs), canonical_headers,
                ';'.join(signed), headers.get('x-acs-content-sha256', '')])
        to_sign = 'ACS3-HMAC-SHA256\n' + hashlib.sha256(
            canonical.encode()).hexdigest()
        expected = hmac.new(self.access_key_secret.encode(),
            to_sign.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, parts.get('Signature', ''))

    def handle(self, request):
        length = int(request.headers.get('Content-Length') or 0)
        body = request.rfile.read(length) if length else b''
        url = urllib.parse.urlsplit(request.path)
        query = dict(urllib.parse.parse_qsl(url.query,
                keep_blank_values=True))
        form = dict(urllib.parse.parse_qsl(body.decode(),
                keep_blank_values=True))
        params = {**query, **form}
        signed = self.check_signature(request, url)
        with self.lock:
            action = self.script.pop(0) if self.script else 'ok'
            record = {
                'action': request.headers.get('x-acs-action'),
                'version': request.headers.get('x-acs-version'),
                'signed': signed,
                'phone': params.get('PhoneNumbers'),
                'sign_name': params.get('SignName'),
                'template': params.get('TemplateCode'),
                'params': json.loads(params.get('TemplateParam') or '{}'),
                'out_id': params.get('OutId'),
                'answer': action,
                }
            self.requests.append(record)
        request_id = str(uuid.uuid4()).upper()
        if not signed:
            return self.answer(request, 400, {
                    'Code': 'IncompleteSignature', 'RequestId': request_id,
                    'Message': 'The request signature does not conform '
                    'to Aliyun standards.'})
        if action == 'hold':
            self.held.set()
            self.release.wait()
            action = 'ok'
        if action == 'http500':
            return self.answer(request, 500, {
                    'Code': 'InternalError', 'RequestId': request_id,
                    'Message': 'The request processing has failed due to '
                    'some unknown error.'})
        if action != 'ok':
            return self.answer(request, 200, {
                    'Code': action, 'Message': 'refused',
                    'RequestId': request_id})
        return self.answer(request, 200, {
                'Code': 'OK', 'Message': 'OK', 'RequestId': request_id,
                'BizId': f'{len(self.requests)}^{uuid.uuid4().int % 10**9}'})

    @staticmethod
    def answer(request, status, data):
        raw = json.dumps(data).encode()
        try:
            request.send_response(status)
            request.send_header('Content-Type', 'application/json')
            request.send_header('Content-Length', str(len(raw)))
            request.end_headers()
            request.wfile.write(raw)
        except OSError:
            pass    # the client went away (a killed worker)

    def to(self, phone):
        with self.lock:
            return [r for r in self.requests if r['phone'] == phone]
