"Manufacturers' platforms pushing data over HTTPS (OAuth 2 client credentials)."
import datetime as dt
import hashlib
import secrets

from trytond.model import (
    DeactivableMixin, Index, ModelSQL, ModelView, Unique, fields)
from trytond.pool import Pool
from trytond.modules.elevator.common import Timestamp
from trytond.modules.elevator.sharing import SharingClientMixin

from .passwords import hash_password, new_secret, verify_password


class Client(SharingClientMixin, DeactivableMixin, ModelSQL, ModelView):
    "IoT Push Client"
    __name__ = 'elevator.iot.client'
    _sharing_category = 'iot'

    name = fields.Char("Name", required=True)
    client_id = fields.Char("Client ID", required=True, readonly=True)
    secret_hash = fields.Char("Secret Hash", readonly=True)
    secret = fields.Function(fields.Char("Secret",
            help="Set a new secret; it is shown once and only its hash is "
            "stored."),
        'get_secret', setter='set_secret')
    vendor = fields.Many2One('party.party', "Vendor", required=True,
        ondelete='RESTRICT',
        help="The client may push only for the devices of this vendor.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('client_id_unique', Unique(t, t.client_id),
                'elevator_iot.msg_client_id_unique'),
            ]

    @classmethod
    def default_client_id(cls):
        return 'cl_' + secrets.token_hex(8)

    def get_secret(self, name):
        return 'x' * 10 if self.secret_hash else None

    @classmethod
    def set_secret(cls, clients, name, value):
        if value == 'x' * 10:
            return
        cls.write(clients, {
                'secret_hash': hash_password(value) if value else None})

    @classmethod
    def authenticate(cls, client_id, secret):
        "The active client with these credentials, or None."
        clients = cls.search([
                ('client_id', '=', client_id),
                ('active', '=', True),
                ], limit=1)
        if clients and clients[0].secret_hash and verify_password(
                secret, clients[0].secret_hash):
            return clients[0]

    @classmethod
    def new_secret(cls):
        return new_secret()


class Token(ModelSQL):
    "IoT Push Token"
    __name__ = 'elevator.iot.client.token'

    client = fields.Many2One('elevator.iot.client', "Client", required=True,
        ondelete='CASCADE')
    token_hash = fields.Char("Token Hash", required=True)
    expires_at = Timestamp("Expires", required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.token_hash, Index.Equality())))

    @staticmethod
    def _hash(token):
        # Tokens are long random strings: a plain digest is enough.
        return hashlib.sha256(token.encode('utf-8')).hexdigest()

    @classmethod
    def issue(cls, client):
        "Return (token, lifetime in seconds) for an authenticated client."
        pool = Pool()
        Configuration = pool.get('elevator.iot.configuration')
        lifetime = Configuration(1).token_lifetime
        token = secrets.token_urlsafe(32)
        now = dt.datetime.now()
        # Expired tokens of the client are of no use any more.
        cls.delete(cls.search([
                    ('client', '=', client.id),
                    ('expires_at', '<', now),
                    ]))
        cls.create([{
                    'client': client.id,
                    'token_hash': cls._hash(token),
                    'expires_at': now + dt.timedelta(seconds=lifetime),
                    }])
        return token, lifetime

    @classmethod
    def client_of(cls, token):
        "The active client of a valid token, or None."
        tokens = cls.search([
                ('token_hash', '=', cls._hash(token)),
                ('expires_at', '>', dt.datetime.now()),
                ('client.active', '=', True),
                ], limit=1)
        return tokens[0].client if tokens else None
