"""Approved records of the data-sharing register for the fixtures of the
tests whose push or call-centre clients must work (elevator.data.sharing:
a client without a valid approval is refused)."""
from elevator_platform.data_sharing import approved_sharing, city_regulators

__all__ = ['approved_sharing', 'city_regulators', 'share']


def share(pool, party, categories=('iot',), name=None, days=365):
    """An approved record from and to party (a party or its id), for the
    fixtures: link the client to it with `'sharing': record.id`."""
    return approved_sharing(pool, name or 'test data sharing', party, party,
        categories, 'tests: data exchanged with the platform', days=days)
