"""`elevator import FILE`: load the elevator registry from XLSX or CSV.

Creates or updates elevators by registration code; every bad row is
reported (row, column, reason) and skipped while the good rows are imported.
Exit code 0: every row imported; 1: some rows rejected; 2: the file cannot
be read. The columns are described in docs/import-format.md.
"""
import csv
import sys

from . import tryton_env
from .progress import ProgressBar
from .registry_file import UnreadableFile, read_table
from .registry_format import match_headers

EXIT_OK, EXIT_REJECTED, EXIT_UNREADABLE = 0, 1, 2


def add_parser(subparsers):
    parser = subparsers.add_parser('import',
        help="import the elevator registry from an XLSX or CSV file",
        description=__doc__.split('\n\n')[1])
    tryton_env.add_arguments(parser)
    parser.add_argument('file', help="registry file (.xlsx or .csv)")
    parser.add_argument('--errors', metavar='FILE',
        help="also write the rejected rows' errors to this CSV file")
    parser.add_argument('--user', default='admin',
        help="login recorded as the author of the changes "
        "(default: admin)")
    parser.add_argument('--language',
        help="language of the error messages (default: the user's)")
    parser.add_argument('--batch-size', type=int, default=1000,
        help="rows per database batch (default: 1000)")
    parser.add_argument('--quiet', action='store_true',
        help="no progress bar")
    parser.set_defaults(func=run)


def run(args):
    return import_file(args.database, args.file, errors_file=args.errors,
        config_file=args.config, login=args.user, language=args.language,
        batch_size=args.batch_size, progress=not args.quiet)


def read_rows(path):
    """Return ([(row number, {key: cell})], {key: (position, header)},
    [unknown headers]) of the file; raise UnreadableFile."""
    table = read_table(path)
    positions, unknown = match_headers(table.headers)
    if 'registration_code' not in positions.values():
        raise UnreadableFile(
            "no registration code column (注册代码 / registration_code) "
            "in the header row")
    rows = []
    for number, cells in table.rows:
        rows.append((number, {
                    key: cells[i] if i < len(cells) else None
                    for i, key in positions.items()}))
    columns = {key: (i + 1, str(table.headers[i]).strip())
        for i, key in positions.items()}
    return rows, columns, unknown


def import_file(database, path, errors_file=None, config_file=None,
        login='admin', language=None, batch_size=1000, progress=True,
        stream=None):
    "Import the registry file into database; return the exit code."
    stream = stream or sys.stderr
    try:
        rows, columns, unknown = read_rows(path)
    except UnreadableFile as exception:
        print(f"elevator import: cannot read {path}: {exception}",
            file=stream)
        return EXIT_UNREADABLE
    if unknown:
        print("elevator import: ignored columns: " + ', '.join(unknown),
            file=stream)
    bar = ProgressBar(len(rows), label='import', stream=stream,
        enabled=progress)
    result = load_rows(database, rows, columns, config_file=config_file,
        login=login, language=language, batch_size=batch_size,
        progress=bar)
    bar.close()
    for error in result.errors:
        print(f"row {error.row}, {error.column or '-'}: {error.message}",
            file=stream)
    if errors_file:
        write_error_report(errors_file, result.errors)
    print(f"elevator import: {result.total} rows: {result.created} created, "
        f"{result.updated} updated, {result.unchanged} unchanged, "
        f"{result.rejected} rejected", file=stream)
    return EXIT_REJECTED if result.errors else EXIT_OK


def load_rows(database, rows, columns=None, config_file=None, login='admin',
        language=None, batch_size=1000, progress=None):
    """Load [(row number, {key: value})] into database as the user `login`;
    return the loader's Result. Batches are committed one by one."""
    from trytond.transaction import Transaction

    from .registry_loader import RegistryLoader
    with tryton_env.transaction(database, config_file=config_file) as pool:
        User = pool.get('res.user')
        users = User.search([('login', '=', login)])
        if not users:
            raise SystemExit(f"elevator import: no user {login!r}")
        user, = users
        if language is None and user.language:
            language = user.language.code
        context = {'language': language} if language else {}
        with Transaction().set_user(user.id), \
                Transaction().set_context(**context):
            loader = RegistryLoader(pool, columns=columns,
                batch_size=batch_size, progress=progress)
            return loader.load(rows)


def write_error_report(path, errors):
    "The rejected rows as CSV (UTF-8 with BOM so that Excel reads it)."
    with open(path, 'w', encoding='utf-8-sig', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['row', 'column', 'reason'])
        for error in errors:
            writer.writerow([error.row, error.column, error.message])
