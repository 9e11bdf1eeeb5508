"""With the maintenance module: the index that the public card's "last
maintenance" query uses (newest finished order of one elevator)."""
from trytond.model import Index
from trytond.pool import PoolMeta


class MaintenanceOrder(metaclass=PoolMeta):
    __name__ = 'elevator.maintenance.order'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t,
                (t.elevator, Index.Range()), (t.check_out, Index.Range())))
