"""The bridge over TLS: a throw-away CA and broker certificate made with
openssl, our own Mosquitto with a TLS listener only, the real `elevator
bridge` given the CA: a trapped alarm lands in the database. Given another
CA, the bridge refuses the broker (certificate verify failed, said in its
log), keeps retrying and stores nothing; given a CA file it cannot load, it
says so and exits at once."""
import datetime as dt
import subprocess
import tempfile
from pathlib import Path

import pytest

from elevator_platform import scratch_db
from support.iot import (
    SERIALS,
    BridgeProcess,
    Publisher,
    events,
    fault,
    iot_database,
    now,
)
from support.mqtt import Mosquitto
from support.process import WAIT, wait_for


def make_ca(directory, name):
    "A CA key and self-signed certificate; returns (cert, key)."
    cert, key = directory / f'{name}.crt', directory / f'{name}.key'
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048',
            '-nodes', '-days', '2', '-subj', f'/CN={name}',
            '-keyout', str(key), '-out', str(cert)],
        check=True, capture_output=True)
    return cert, key


def make_server_certificate(directory, ca_cert, ca_key):
    "The broker's certificate for 127.0.0.1, signed by the CA."
    key, csr, cert, ext = (directory / 'broker.key',
        directory / 'broker.csr', directory / 'broker.crt',
        directory / 'broker.ext')
    ext.write_text('subjectAltName = IP:127.0.0.1, DNS:localhost\n')
    subprocess.run(['openssl', 'req', '-newkey', 'rsa:2048', '-nodes',
            '-subj', '/CN=127.0.0.1', '-keyout', str(key), '-out',
            str(csr)], check=True, capture_output=True)
    subprocess.run(['openssl', 'x509', '-req', '-in', str(csr), '-CA',
            str(ca_cert), '-CAkey', str(ca_key), '-CAcreateserial',
            '-days', '2', '-extfile', str(ext), '-out', str(cert)],
        check=True, capture_output=True)
    # Mosquitto drops its privileges to the test's user: readable files.
    for path in [key, cert, ca_cert]:
        path.chmod(0o644)
    return cert, key


@pytest.fixture(scope='module')
def workdir():
    with tempfile.TemporaryDirectory(prefix='elevator-tls-') as path:
        Path(path).chmod(0o755)
        yield Path(path)


@pytest.fixture(scope='module')
def pki(workdir):
    ca_cert, ca_key = make_ca(workdir, 'platform-test-ca')
    cert, key = make_server_certificate(workdir, ca_cert, ca_key)
    other_ca, _ = make_ca(workdir, 'someone-else-ca')
    return {'ca': ca_cert, 'cert': cert, 'key': key, 'other_ca': other_ca}


@pytest.fixture(scope='module')
def broker(workdir, pki):
    with Mosquitto(workdir, name='mosquitto-tls', extra=f'''
            cafile {pki['ca']}
            certfile {pki['cert']}
            keyfile {pki['key']}
            tls_version tlsv1.2
            ''') as broker:
        yield broker


@pytest.fixture(scope='module')
def database():
    name = iot_database('tls')
    try:
        yield name
    finally:
        scratch_db.drop_database(name)


def test_bridge_over_tls(database, broker, pki, workdir):
    serial = SERIALS[0]
    bridge = BridgeProcess(database, broker.port, workdir,
        args=['--ca-file', str(pki['ca'])])
    with bridge, Publisher(broker.port, ca_file=pki['ca']) as publisher:
        assert 'with TLS, subscribed to' in bridge.output()
        publisher.send(serial, 'fault', fault('TLS-trapped-1', 8,
                now() - dt.timedelta(seconds=2)))
        publisher.flush()
        wait_for(lambda: 'TLS-trapped-1' in events(database, serial),
            'the alarm over TLS')
        assert events(database, serial)['TLS-trapped-1']['code'] == '8'
        assert bridge.alive


def test_bridge_refuses_a_broker_it_cannot_verify(database, broker, pki,
        workdir):
    bridge = BridgeProcess(database, broker.port, workdir,
        args=['--ca-file', str(pki['other_ca'])])
    bridge.start(wait=False)
    try:
        wait_for(lambda: 'certificate verify failed' in bridge.output(),
            'the bridge to refuse the certificate')
        assert bridge.alive  # it keeps retrying, with back-off
        assert 'subscribed to' not in bridge.output()
    finally:
        bridge.stop()
    # Nor in clear against the TLS listener.
    plain = BridgeProcess(database, broker.port, workdir)
    plain.start(wait=False)
    try:
        wait_for(lambda: 'cannot connect to MQTT broker' in plain.output(),
            'the bridge without TLS to fail')
        assert 'subscribed to' not in plain.output()
    finally:
        plain.stop()


def test_bridge_stops_on_a_certificate_it_cannot_load(database, broker,
        workdir):
    "A missing or broken CA file is a configuration error: exit at once."
    broken = workdir / 'broken-ca.pem'
    broken.write_text('not a certificate\n')
    for ca_file in [workdir / 'missing-ca.pem', broken]:
        bridge = BridgeProcess(database, broker.port, workdir,
            args=['--ca-file', str(ca_file)])
        bridge.start(wait=False)
        try:
            assert bridge.process.wait(WAIT) == 2
        finally:
            bridge.stop()
        output = bridge.output()
        assert 'TLS to the broker: cannot load --ca-file' in output, output
        assert str(ca_file) in output
        assert 'Traceback' not in output
