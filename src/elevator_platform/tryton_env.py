"""Open a Tryton pool and transaction for command-line tools.

Every non-ORM entry point (import, demo data, bridge, reports) reaches the
database through here, so configuration and database selection behave the
same everywhere: `--config` or $TRYTOND_CONFIG, `--database` or $ELEVATOR_DB.
"""
import contextlib
import os


def add_arguments(parser):
    parser.add_argument('-c', '--config', dest='config',
        default=os.environ.get('TRYTOND_CONFIG'),
        help="trytond configuration file (default: $TRYTOND_CONFIG)")
    parser.add_argument('-d', '--database', dest='database',
        default=os.environ.get('ELEVATOR_DB', 'demo'),
        help="database name (default: $ELEVATOR_DB or 'demo')")


def configure(config_file=None):
    from trytond import config
    config.update_etc(config_file)


@contextlib.contextmanager
def transaction(database, user=0, context=None, readonly=False,
        config_file=None):
    """Yield the pool of `database` inside a transaction that commits on
    success and rolls back on error."""
    configure(config_file)
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool(database)
    pool.init()
    with Transaction().start(database, user, context=context or {},
            readonly=readonly) as transaction:
        yield pool
        if not readonly:
            transaction.commit()
        tasks = list(transaction.tasks)
    # As trytond's dispatcher does after a request: without a queue worker
    # ([queue] worker off, the demo), the tasks pushed by the work just
    # committed run now, else they would wait in ir.queue for ever.
    if tasks:
        from trytond.worker import run_task
        for task_id in tasks:
            run_task(pool, task_id)
