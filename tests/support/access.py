"""Transactions of a user with the access checks of an RPC call on (model
and field access, record rules), as trytond's dispatcher runs a call: the
one way the tests act as a user in-process."""
import contextlib
import time


@contextlib.contextmanager
def user_transaction(database, user, context=None):
    """A transaction of user with access checks on; yields (pool,
    transaction). As every trytond transaction, it commits when the block
    ends without an error and rolls back on one."""
    from trytond.pool import Pool
    from trytond.transaction import Transaction, check_access
    pool = Pool(database)
    with Transaction().start(database, user,
            context=context or {}) as transaction, check_access():
        yield pool, transaction


def as_user(database, user, func, context=None):
    "func(pool) in a user_transaction; its result."
    with user_transaction(database, user, context) as (pool, _):
        return func(pool)


def as_rpc(database, user, func, context=None, attempts=6):
    """as_user, retried on database operational errors (a lock not
    granted, a serialization failure) as the dispatcher retries an RPC
    call (trytond/protocols/dispatcher.py): (result, attempts made)."""
    from trytond import backend
    for attempt in range(1, attempts + 1):
        try:
            return as_user(database, user, func, context), attempt
        except backend.DatabaseOperationalError:
            if attempt == attempts:
                raise
            time.sleep(0.05 * attempt)
