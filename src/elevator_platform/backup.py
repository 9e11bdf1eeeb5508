"""`elevator backup` and `elevator restore`: the database and its
attachment store, consistent, with a manifest and checksums.

A backup is a directory:

    manifest.json     versions (platform, trytond, PostgreSQL, pg_dump),
                      activated modules with their versions, the row count
                      of every table, the files
    database.dump     pg_dump custom format (pg_restore reads it)
    filestore/        the files of the attachment store (trytond's
                      [database] path) that the database refers to, in the
                      store's own layout <prefix>/ab/cd/<id>
    filestore.sha256  one `sha256  filestore/...` line per file
    SHA256SUMS        checksums of the three files above
                      (`sha256sum -c SHA256SUMS` checks them by hand)

Consistency: the dump and the counts, the module list and the list of
files the database refers to are all read in ONE snapshot of the database
(pg_export_snapshot, then pg_dump --snapshot), while the platform keeps
running. The files are copied after the dump: trytond's store never
changes a file (a new content gets a new id) and keeps a deleted file for
[attachment] retention_days (90) before removing it, so every file the
snapshot refers to is still there. The backup is written under
<directory>.partial and renamed when complete: a directory without that
suffix is a whole backup.

`--link-dest PREVIOUS` hard-links the files already in a previous backup
(ids are never reused) instead of copying them: daily backups of a large
store then cost only the new files.

Restore checks every checksum first, refuses a backup of modules this
installation does not have or of another trytond series, creates the
database (an existing one only with --replace), runs pg_restore, copies the
files into the store and compares the row count of every table with the
manifest. A backup of an older platform release is then updated like any
upgrade (--update runs `trytond-admin --all`; docs/deployment.md).
"""
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path

FORMAT = 'elevator-backup/1'
DUMP = 'database.dump'
MANIFEST = 'manifest.json'
FILE_SUMS = 'filestore.sha256'
SUMS = 'SHA256SUMS'
FILESTORE = 'filestore'
CHUNK = 1024 * 1024


class BackupError(Exception):
    pass


def add_parser(subparsers):
    from .tryton_env import add_arguments
    parser = subparsers.add_parser('backup',
        help="back up a database and its attachment store",
        description="Dump the database (pg_dump custom format) and copy "
        "the files of the attachment store it refers to, in one consistent "
        "snapshot, with a manifest and SHA-256 checksums.")
    add_arguments(parser)
    parser.add_argument('-o', '--output', type=Path,
        help="backup directory to create (default: "
        "backups/<database>-<UTC time>)")
    parser.add_argument('--link-dest', type=Path, metavar='PREVIOUS',
        help="a previous backup whose files are hard-linked, not copied")
    parser.set_defaults(func=run_backup)

    parser = subparsers.add_parser('restore',
        help="restore a backup made by `elevator backup`",
        description="Check the backup's checksums, create the database, "
        "restore the dump, copy the files into the attachment store and "
        "compare every table's row count with the manifest.")
    add_arguments(parser)
    parser.add_argument('backup', type=Path, help="backup directory")
    parser.add_argument('--replace', action='store_true',
        help="drop the database first if it exists")
    parser.add_argument('-j', '--jobs', type=int, default=2,
        help="pg_restore jobs (default: 2)")
    parser.add_argument('--update', action='store_true',
        help="update every module afterwards (trytond-admin --all), for a "
        "backup of an older platform release")
    parser.add_argument('--check-only', action='store_true',
        help="only check the checksums and the compatibility")
    parser.set_defaults(func=run_restore)


# --- database connection -----------------------------------------------------

def _uri():
    from trytond import config
    uri = config.get('database', 'uri')
    if not uri.startswith('postgresql'):
        raise BackupError(f"backups are of PostgreSQL databases; [database] "
            f"uri is {uri.split(':', 1)[0]}://")
    return uri


def conninfo(database, with_password=True):
    """libpq URI of `database` on the server of [database] uri; without
    the password (given to pg_dump in its environment, not its arguments)
    when with_password is false."""
    parts = urllib.parse.urlsplit(_uri())
    netloc = parts.netloc
    if not with_password and '@' in netloc:
        userinfo, host = netloc.rsplit('@', 1)
        netloc = userinfo.split(':', 1)[0] + '@' + host
    return urllib.parse.urlunsplit(
        ('postgresql', netloc, '/' + database, parts.query, ''))


def tool_env():
    "Environment of pg_dump / pg_restore: the password, if any."
    env = dict(os.environ)
    password = urllib.parse.urlsplit(_uri()).password
    if password:
        env['PGPASSWORD'] = urllib.parse.unquote(password)
    return env


def connect(database, **kwargs):
    import psycopg
    return psycopg.connect(conninfo(database), **kwargs)


def _quote(name):
    return '"' + name.replace('"', '""') + '"'


def table_counts(cursor):
    "{table: rows} of every table of the public schema."
    cursor.execute("""
        SELECT c.relname FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
        ORDER BY c.relname""")
    tables = [r[0] for r in cursor.fetchall()]
    counts = {}
    for table in tables:
        cursor.execute(f'SELECT COUNT(*) FROM {_quote(table)}')
        counts[table] = cursor.fetchone()[0]
    return counts


def binary_columns(database):
    """(table, file id column, store prefix) of every Binary field kept in
    the attachment store, from the models of the database's modules. The
    prefix is None for the default, which is the database's name (a
    restore under another name moves those files)."""
    from trytond.model import ModelSQL, fields
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool(database)
    with Transaction().start(database, 0, readonly=True):
        pool.init()
    columns = set()
    for _, Model in pool.iterobject():
        # Models of a table_query have no table: referenced_files skips
        # the tables that do not exist.
        if not issubclass(Model, ModelSQL) or not Model._table:
            continue
        for field in Model._fields.values():
            if isinstance(field, fields.Binary) and field.file_id:
                columns.add((Model._table, field.file_id,
                        field.store_prefix))
    return sorted(columns, key=lambda c: (c[0], c[1], c[2] or ''))


def referenced_files(cursor, columns, database):
    "{(prefix, file id)} the database refers to."
    files = set()
    for table, column, prefix in columns:
        if prefix is None:
            prefix = database
        cursor.execute("SELECT to_regclass(%s)", (_quote(table),))
        if cursor.fetchone()[0] is None:
            continue
        cursor.execute(f'SELECT DISTINCT {_quote(column)} FROM '
            f'{_quote(table)} WHERE {_quote(column)} IS NOT NULL '
            f"AND {_quote(column)} <> ''")
        files.update((prefix, r[0]) for r in cursor.fetchall())
    return files


def file_path(root, prefix, file_id):
    "Where trytond's FileStore keeps a file (trytond.filestore)."
    path = os.path.normpath(os.path.join(root, prefix, file_id[0:2],
            file_id[2:4], file_id))
    if not path.startswith(os.path.normpath(root) + os.sep):
        raise BackupError(f'file id {file_id!r} leaves the store')
    return path


def filestore_root():
    from trytond import config
    return os.path.normpath(config.get('database', 'path'))


# --- versions ----------------------------------------------------------------

def _distribution_version(name):
    from importlib import metadata
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def code_versions():
    import trytond
    return {
        'platform': _distribution_version('putian-elevator-platform'),
        'build': os.environ.get('ELEVATOR_BUILD') or None,
        'trytond': trytond.__version__,
        'python': platform.python_version(),
        'psycopg': _distribution_version('psycopg'),
        }


def tool_version(tool):
    "15.20 of 'pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)'."
    result = subprocess.run([tool, '--version'], capture_output=True,
        text=True)
    words = result.stdout.split()
    return words[2] if len(words) > 2 else result.stdout.strip() or None


def module_versions(names):
    from trytond.modules import get_module_info
    versions = {}
    for name in sorted(names):
        try:
            info = get_module_info(name)
        except Exception:
            info = None
        versions[name] = info.get('version') if info else None
    return versions


# --- checksums ---------------------------------------------------------------

def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def copy_hashed(source, target):
    "Copy source to target; return (sha256, size)."
    digest = hashlib.sha256()
    size = 0
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(source, 'rb') as src, open(target, 'wb') as dst:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            dst.write(chunk)
            size += len(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    shutil.copystat(source, target)
    return digest.hexdigest(), size


def read_sums(path):
    "{relative path: sha256} of a sha256sum file."
    sums = {}
    for line in Path(path).read_text(encoding='utf-8').splitlines():
        if not line.strip():
            continue
        digest, name = line.split('  ', 1)
        sums[name] = digest
    return sums


def write_sums(path, sums):
    with open(path, 'w', encoding='utf-8') as file:
        for name, digest in sorted(sums.items()):
            file.write(f'{digest}  {name}\n')
        file.flush()
        os.fsync(file.fileno())


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- backup ------------------------------------------------------------------

def backup(database, output, link_dest=None, log=print):
    """Write the backup of `database` to the directory `output`; return
    its manifest. Raises BackupError, and leaves only <output>.partial,
    when something fails."""
    output = Path(output)
    if output.exists():
        raise BackupError(f'{output} exists already')
    partial = output.with_name(output.name + '.partial')
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    started = dt.datetime.now(dt.timezone.utc)
    columns = binary_columns(database)
    root = filestore_root()
    from psycopg import IsolationLevel
    with connect(database) as conn:
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        cursor = conn.cursor()
        cursor.execute('SELECT pg_export_snapshot(), version(), '
            "current_setting('server_version')")
        snapshot, server, server_version = cursor.fetchone()
        log(f'snapshot {snapshot} of {database}: dumping')
        dump = partial / DUMP
        # The dump runs while this transaction holds the snapshot.
        result = subprocess.run(['pg_dump', '--format=custom',
                f'--snapshot={snapshot}', f'--file={dump}',
                f'--dbname={conninfo(database, with_password=False)}'],
            env=tool_env(), capture_output=True, text=True)
        if result.returncode:
            raise BackupError(f'pg_dump failed: {result.stderr.strip()}')
        counts = table_counts(cursor)
        cursor.execute("SELECT name FROM ir_module WHERE state = 'activated' "
            "ORDER BY name")
        modules = [r[0] for r in cursor.fetchall()]
        files = referenced_files(cursor, columns, database)
        conn.rollback()

    log(f'{len(counts)} tables, {sum(counts.values())} rows; copying '
        f'{len(files)} files of the attachment store')
    sums, missing, total = {}, [], 0
    previous = read_sums(Path(link_dest) / FILE_SUMS) if link_dest else {}
    for prefix, file_id in sorted(files):
        source = file_path(root, prefix, file_id)
        relative = os.path.relpath(file_path(FILESTORE, prefix, file_id))
        target = partial / relative
        if relative in previous:
            earlier = Path(link_dest) / relative
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.link(earlier, target)
                sums[relative] = previous[relative]
                total += target.stat().st_size
                continue
            except OSError:
                pass
        try:
            digest, size = copy_hashed(source, target)
        except FileNotFoundError:
            missing.append(relative)
            continue
        sums[relative] = digest
        total += size
    write_sums(partial / FILE_SUMS, sums)

    manifest = {
        'format': FORMAT,
        'database': database,
        'started_at': started.isoformat(timespec='seconds'),
        'finished_at': dt.datetime.now(dt.timezone.utc).isoformat(
            timespec='seconds'),
        'snapshot': snapshot,
        'versions': {
            **code_versions(),
            'postgresql': server_version,
            'postgresql_full': server,
            'pg_dump': tool_version('pg_dump'),
            },
        'modules': module_versions(modules),
        'counts': counts,
        'rows': sum(counts.values()),
        'filestore': {
            'files': len(sums),
            'bytes': total,
            'missing': missing,
            'binary_columns': [list(c) for c in columns],
            },
        'dump': {'bytes': dump.stat().st_size},
        }
    with open(partial / MANIFEST, 'w', encoding='utf-8') as file:
        json.dump(manifest, file, indent=1, ensure_ascii=False,
            sort_keys=False)
        file.write('\n')
        file.flush()
        os.fsync(file.fileno())
    write_sums(partial / SUMS, {name: sha256_file(partial / name)
            for name in [MANIFEST, DUMP, FILE_SUMS]})
    _fsync_dir(partial)
    os.rename(partial, output)
    _fsync_dir(output.parent)
    return manifest


def default_output(database):
    stamp = dt.datetime.now(dt.timezone.utc).strftime('%Y%m%dT%H%M%SZ')
    return Path('backups') / f'{database}-{stamp}'


def run_backup(args):
    from .tryton_env import configure
    configure(args.config)
    output = args.output or default_output(args.database)
    try:
        manifest = backup(args.database, output, link_dest=args.link_dest,
            log=lambda m: print(f'elevator backup: {m}', file=sys.stderr))
    except BackupError as exception:
        print(f'elevator backup: {exception}', file=sys.stderr)
        return 1
    store = manifest['filestore']
    print(f"elevator backup: {output}: {manifest['rows']} rows in "
        f"{len(manifest['counts'])} tables, {store['files']} files "
        f"({store['bytes']} bytes)", file=sys.stderr)
    if store['missing']:
        print(f"elevator backup: {len(store['missing'])} files the database "
            "refers to are MISSING from the attachment store, e.g. "
            f"{store['missing'][0]}", file=sys.stderr)
        return 1
    return 0


# --- restore -----------------------------------------------------------------

def check(directory, log=print):
    """Check the checksums and the compatibility of a backup; return its
    manifest. Raises BackupError."""
    directory = Path(directory)
    try:
        sums = read_sums(directory / SUMS)
    except (OSError, ValueError) as exception:
        raise BackupError(f'{directory} is not a backup: {exception}')
    for name in [MANIFEST, DUMP, FILE_SUMS]:
        if name not in sums:
            raise BackupError(f'{SUMS} lists no {name}')
        if not (directory / name).is_file():
            raise BackupError(f'{name} is missing')
        if sha256_file(directory / name) != sums[name]:
            raise BackupError(f'{name} is corrupt (SHA-256 differs)')
    manifest = json.loads((directory / MANIFEST).read_text(encoding='utf-8'))
    if manifest.get('format') != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')}")
    files = read_sums(directory / FILE_SUMS)
    if len(files) != manifest['filestore']['files']:
        raise BackupError(f'{FILE_SUMS} lists {len(files)} files, the '
            f"manifest {manifest['filestore']['files']}")
    for relative, digest in files.items():
        path = directory / relative
        if not path.is_file() or sha256_file(path) != digest:
            raise BackupError(f'{relative} is missing or corrupt')
    log(f'checksums of the dump, the manifest and {len(files)} files agree')

    import trytond
    from trytond.modules import get_module_info
    saved = manifest['versions']['trytond'].split('.')[:2]
    if saved != trytond.__version__.split('.')[:2]:
        raise BackupError(f"the backup is of trytond "
            f"{manifest['versions']['trytond']}, this is "
            f"{trytond.__version__}: restore it with the same series, "
            "then upgrade")
    unknown = [m for m in manifest['modules'] if not get_module_info(m)]
    if unknown:
        raise BackupError(f"modules of the backup not installed here: "
            f"{', '.join(unknown)}")
    return manifest


def database_exists(name):
    with connect('postgres', autocommit=True) as conn:
        return bool(conn.execute(
                'SELECT 1 FROM pg_database WHERE datname = %s',
                (name,)).fetchone())


def restore(directory, database, replace=False, jobs=2, update=False,
        log=print):
    """Restore the backup in `directory` as `database`; return
    {table: (expected, restored)} of the tables whose counts differ (none
    when all is well)."""
    directory = Path(directory)
    manifest = check(directory, log=log)
    if database_exists(database):
        if not replace:
            raise BackupError(f'database {database} exists (--replace '
                'drops it)')
        log(f'dropping database {database}')
        with connect('postgres', autocommit=True) as conn:
            conn.execute(f'DROP DATABASE {_quote(database)} WITH (FORCE)')
    with connect('postgres', autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {_quote(database)} ENCODING 'UTF8' "
            'TEMPLATE template0')
    log(f'restoring {DUMP} into {database}')
    result = subprocess.run(['pg_restore', '--no-owner', '--no-privileges',
            '--exit-on-error', f'--jobs={max(1, jobs)}',
            f'--dbname={conninfo(database, with_password=False)}',
            str(directory / DUMP)],
        env=tool_env(), capture_output=True, text=True)
    if result.returncode:
        raise BackupError(f'pg_restore failed: {result.stderr.strip()}')

    root = filestore_root()
    copied = present = 0
    for relative, digest in read_sums(directory / FILE_SUMS).items():
        parts = Path(relative).relative_to(FILESTORE).parts
        if parts[0] == manifest['database'] and len(parts) == 4:
            # The default prefix is the database's name.
            parts = (database,) + parts[1:]
        target = os.path.join(root, *parts)
        if os.path.exists(target):
            if sha256_file(target) != digest:
                raise BackupError(f'{target} exists with another content')
            present += 1
            continue
        os.makedirs(os.path.dirname(target), mode=0o770, exist_ok=True)
        copy_hashed(directory / relative, target)
        copied += 1
    log(f'attachment store {root}: {copied} files copied, {present} '
        'already there')

    with connect(database) as conn:
        counts = table_counts(conn.cursor())
    differ = {t: (n, counts.get(t)) for t, n in manifest['counts'].items()
        if counts.get(t) != n}
    differ.update({t: (None, n) for t, n in counts.items()
            if t not in manifest['counts']})
    if not differ:
        log(f"row counts of {len(counts)} tables agree "
            f"({manifest['rows']} rows)")
    if update:
        log(f'updating the modules of {database} (trytond-admin --all)')
        bin_dir = Path(sys.executable).parent
        result = subprocess.run([str(bin_dir / 'trytond-admin'),
                '-d', database, '--all'], capture_output=True, text=True,
            stdin=subprocess.DEVNULL)
        if result.returncode:
            raise BackupError('trytond-admin --all failed:\n'
                + (result.stdout + result.stderr)[-3000:])
    return differ


def run_restore(args):
    from .tryton_env import configure
    configure(args.config)

    def log(message):
        print(f'elevator restore: {message}', file=sys.stderr)
    try:
        if args.check_only:
            check(args.backup, log=log)
            return 0
        differ = restore(args.backup, args.database, replace=args.replace,
            jobs=args.jobs, update=args.update, log=log)
    except BackupError as exception:
        log(str(exception))
        return 1
    if differ:
        for table, (expected, found) in sorted(differ.items()):
            log(f'table {table}: {expected} rows in the backup, {found} '
                'restored')
        return 1
    log(f'{args.backup} restored as {args.database}')
    return 0
