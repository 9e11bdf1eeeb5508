"""`elevator broker-acl`: the Mosquitto password file and ACL, from the
device registry.

- Password file: one line `serial:hash` per device that may connect (not
  retired, with MQTT credentials), the hash being the Mosquitto `$7$`
  PBKDF2-SHA512 string stored in `elevator.iot.device.password_hash`: the
  platform never knows a device's password, it only copies its hash. The
  service accounts (the bridge, monitoring tools) given on the command
  line follow, with their password hashed here or with their hash.
- ACL file: `pattern write elevator/v1/%u/#` lets every device publish
  under its own serial only (Mosquitto replaces %u by the user name, which
  is the serial); devices get no read right at all. Each service account
  may read `elevator/v1/#`, which Mosquitto also applies to the bridges'
  shared subscription `$share/elevator-bridge/elevator/v1/+/+`.

Both files are written atomically (a temporary file in the same directory,
fsync, rename) with mode 0600, or 0640 and the group given by --group
(Mosquitto drops its privileges to its own user, which must be able to read
them). With --reload PID_FILE the running Mosquitto is sent SIGHUP, which
makes it read both files again and disconnect the clients whose
credentials are gone.

A broker configuration using them (see docs/iot-protocol.md):

    allow_anonymous false
    password_file /etc/mosquitto/elevator.passwd
    acl_file /etc/mosquitto/elevator.acl
"""
import grp
import os
import re
import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

TOPIC_ROOT = 'elevator/v1'
HEARTBEAT_ROOT = 'elevator/bridge'
# A service account name: what Mosquitto accepts in both files without
# quoting (no ':' which separates the hash, no space, no wildcard).
SERVICE_NAME = re.compile(r'^[A-Za-z0-9_.@-]{1,64}$')
# Device serials as the registry validates them (device.SERIAL_PATTERN):
# checked again here because a serial with ':' or a line break would
# corrupt the password file, and one with '+', '#' or '/' would be refused
# by Mosquitto's %u substitution.
SERIAL = re.compile(r'^[A-Za-z0-9_.:-]{4,64}$')
HASH = re.compile(r'^\$[67]\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$')


class BrokerAclError(Exception):
    pass


@dataclass
class Account:
    name: str
    password_hash: str


def add_parser(subparsers):
    from ..tryton_env import add_arguments
    parser = subparsers.add_parser('broker-acl',
        help="write the Mosquitto password file and ACL from the device "
        "registry",
        description="Write a Mosquitto password file (device serial and "
        "the stored hash of its password; retired devices and devices "
        "without a password are left out) and an ACL that lets each device "
        "publish only under elevator/v1/{its serial}/ and the service "
        "accounts read elevator/v1/#. Files are replaced atomically.")
    add_arguments(parser)
    parser.add_argument('--password-file', required=True, type=Path,
        help="Mosquitto password_file to write")
    parser.add_argument('--acl-file', required=True, type=Path,
        help="Mosquitto acl_file to write")
    parser.add_argument('--service', action='append', default=[],
        metavar='NAME:PASSWORD',
        help="a service account (the bridge) that may read every device "
        "message; the password is hashed here (repeatable)")
    parser.add_argument('--service-hash', action='append', default=[],
        metavar='NAME:HASH',
        help="a service account given with the $7$ hash of its password, "
        "e.g. made by mosquitto_passwd (repeatable)")
    parser.add_argument('--group',
        help="group owning the files, e.g. mosquitto: mode 0640 instead "
        "of 0600")
    parser.add_argument('--reload', metavar='PID_FILE', type=Path,
        help="send SIGHUP to the Mosquitto whose pid is in PID_FILE so "
        "that it reads the new files")
    parser.set_defaults(func=run)


def run(args):
    from .. import tryton_env

    # The configuration first: the password hashing of elevator_iot
    # imports trytond's backend, which reads it.
    tryton_env.configure(args.config)
    try:
        services = parse_services(args.service, args.service_hash)
        gid = grp.getgrnam(args.group).gr_gid if args.group else None
    except (BrokerAclError, KeyError) as exception:
        print(f"elevator broker-acl: {exception}", file=sys.stderr)
        return 2
    with tryton_env.transaction(args.database, readonly=True,
            config_file=args.config) as pool:
        devices, skipped = device_accounts(pool)
    try:
        write_files(devices, services, args.password_file, args.acl_file,
            gid=gid, database=args.database)
    except BrokerAclError as exception:
        print(f"elevator broker-acl: {exception}", file=sys.stderr)
        return 1
    for serial, reason in skipped:
        print(f"elevator broker-acl: device {serial!r} left out: {reason}",
            file=sys.stderr)
    message = (f"elevator broker-acl: {len(devices)} devices, "
        f"{len(services)} service accounts written to {args.password_file} "
        f"and {args.acl_file}")
    if args.reload:
        try:
            pid = reload_broker(args.reload)
        except BrokerAclError as exception:
            print(f"{message}; {exception}", file=sys.stderr)
            return 1
        message += f"; Mosquitto (pid {pid}) reloaded"
    print(message, file=sys.stderr)
    return 0


def parse_services(passwords=(), hashes=()):
    "Service accounts of NAME:PASSWORD and NAME:HASH arguments."
    from trytond.modules.elevator_iot.passwords import hash_password
    accounts = {}
    for value, hashed in [(v, False) for v in passwords] + [
            (v, True) for v in hashes]:
        name, sep, secret = value.partition(':')
        if not sep or not secret:
            raise BrokerAclError(f"{value!r} is not NAME:"
                + ('HASH' if hashed else 'PASSWORD'))
        if not SERVICE_NAME.match(name):
            raise BrokerAclError(f"service account name {name!r} must have "
                "1 to 64 letters, digits or the characters _ . @ -")
        if name in accounts:
            raise BrokerAclError(f"service account {name!r} given twice")
        if hashed and not HASH.match(secret):
            raise BrokerAclError(f"the hash of {name!r} is not a Mosquitto "
                "$7$ (or $6$) password hash")
        accounts[name] = Account(name,
            secret if hashed else hash_password(secret))
    return list(accounts.values())


def device_accounts(pool):
    """Accounts of the devices that may connect, by serial; and the
    (serial, reason) of those left out for an unusable serial or hash."""
    from trytond.transaction import Transaction
    Device = pool.get('elevator.iot.device')
    device = Device.__table__()
    cursor = Transaction().connection.cursor()
    cursor.execute(*device.select(device.serial, device.password_hash,
            where=(device.state != 'retired')
            & (device.password_hash != None),  # noqa: E711
            order_by=[device.serial.asc]))
    accounts, skipped = [], []
    for serial, password_hash in cursor:
        if not SERIAL.match(serial or ''):
            skipped.append((serial, "serial not usable as an MQTT user name"))
        elif not HASH.match(password_hash):
            skipped.append((serial, "password hash not in Mosquitto format"))
        else:
            accounts.append(Account(serial, password_hash))
    return accounts, skipped


def password_text(devices, services):
    lines = [f'{a.name}:{a.password_hash}' for a in devices + services]
    return '\n'.join(lines) + '\n'


def acl_text(services, database=None):
    source = f" from database {database}" if database else ""
    lines = [
        f"# Written by `elevator broker-acl`{source}: do not edit, run it",
        "# again after registering or retiring devices.",
        "#",
        "# Devices connect with their serial as user name: each may publish",
        "# only under its own topics and may read nothing. (A pattern",
        "# applies to every user; no device bears a service account's name.)",
        f"pattern write {TOPIC_ROOT}/%u/#",
        ]
    for account in services:
        # Mosquitto checks a shared subscription $share/<group>/<filter>
        # against <filter>: this also allows the bridges' subscription.
        lines += [
            "",
            f"# Service account {account.name}: reads every device message.",
            f"user {account.name}",
            f"topic read {TOPIC_ROOT}/#",
            # The bridge's heartbeat to itself (bridge.HEARTBEAT_ROOT).
            f"topic readwrite {HEARTBEAT_ROOT}/#",
            ]
    return '\n'.join(lines) + '\n'


def write_files(devices, services, password_path, acl_path, gid=None,
        database=None):
    serials = {a.name for a in devices}
    clashes = sorted(serials & {a.name for a in services})
    if clashes:
        raise BrokerAclError("service account names that are also device "
            f"serials: {', '.join(clashes)}")
    # The ACL first: a new device in the password file is harmless without
    # it, the other way round a removed service could still read.
    write_atomically(acl_path, acl_text(services, database), gid)
    write_atomically(password_path, password_text(devices, services), gid)


def write_atomically(path, text, gid=None):
    """Replace path by text in one rename, never leaving a partly written
    file, with mode 0600 (0640 and group gid when given)."""
    path = Path(path)
    directory = path.parent
    if not directory.is_dir():
        raise BrokerAclError(f"directory {directory} does not exist")
    mode = 0o640 if gid is not None else 0o600
    fd, temporary = tempfile.mkstemp(prefix=f'.{path.name}.',
        dir=directory)
    try:
        # Restrictive before the first byte is written.
        os.fchmod(fd, mode)
        if gid is not None:
            os.fchown(fd, -1, gid)
        with os.fdopen(fd, 'w', encoding='utf-8') as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    # The rename itself survives a crash only once the directory is synced.
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def reload_broker(pid_file):
    "SIGHUP to the Mosquitto of the pid file; return its pid."
    try:
        pid = int(Path(pid_file).read_text().strip())
    except (OSError, ValueError) as exception:
        raise BrokerAclError(f"cannot read a pid from {pid_file}: "
            f"{exception}")
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        raise BrokerAclError(f"no process {pid} (from {pid_file}) to reload")
    except PermissionError:
        raise BrokerAclError(f"not allowed to signal process {pid}")
    return pid
