"""Device and client secrets, hashed in Mosquitto's own format.

`$7$<iterations>$<salt>$<hash>` is PBKDF2-HMAC-SHA512 as written by
`mosquitto_passwd` (Mosquitto 2): the registry stores only this hash and
`elevator broker-acl` copies it into the broker's password file, so the
platform never needs to know a device's password after it is set. The same
function checks the secrets of the manufacturers' push clients.
"""
import base64
import hashlib
import hmac
import secrets

ITERATIONS = 1000
SALT_BYTES = 12


def hash_password(password, iterations=ITERATIONS, salt=None):
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac(
        'sha512', password.encode('utf-8'), salt, iterations)
    return '$7${}${}${}'.format(iterations,
        base64.b64encode(salt).decode('ascii'),
        base64.b64encode(digest).decode('ascii'))


def verify_password(password, hashed):
    try:
        _, scheme, iterations, salt, digest = hashed.split('$')
        if scheme != '7':
            return False
        expected = hash_password(
            password, int(iterations), base64.b64decode(salt))
    except (ValueError, AttributeError, TypeError):
        return False
    return hmac.compare_digest(expected, hashed)


def new_secret():
    "A random secret to hand over once to a device installer or client."
    return secrets.token_urlsafe(18)
