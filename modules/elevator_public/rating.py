"""Ratings of the public (1-5 stars on the maintenance and on the user
unit) and their aggregates per maintenance unit, which the credit
evaluation of the maintenance units reads."""
import datetime as dt

from sql import Cast, Literal, Null
from sql.aggregate import Avg, Count, Max, Min, Sum
from sql.conditionals import Case
from sql.functions import Extract

from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.model.fields import SQL_OPERATORS
from trytond.pool import Pool
from trytond.transaction import Transaction
from trytond.modules.elevator.common import Timestamp

SCORES = [(None, "")] + [(s, str(s)) for s in range(1, 6)]
COMMENT_MAX = 200


class Rating(ModelSQL, ModelView):
    "Public Rating"
    __name__ = 'elevator.public.rating'

    elevator = fields.Many2One('elevator.elevator', "Elevator",
        required=True, readonly=True, ondelete='RESTRICT')
    region = fields.Many2One('elevator.region', "Region", readonly=True,
        ondelete='RESTRICT')
    maintenance_unit = fields.Many2One('party.party', "Maintenance Unit",
        readonly=True, ondelete='RESTRICT',
        help="The elevator's maintenance unit when it was rated.")
    user_unit = fields.Many2One('party.party', "User Unit", readonly=True,
        ondelete='RESTRICT',
        help="The elevator's user unit when it was rated.")
    score_maintenance = fields.Integer("Maintenance Score", required=True,
        readonly=True, domain=[
            ('score_maintenance', '>=', 1), ('score_maintenance', '<=', 5)])
    score_user_unit = fields.Integer("User Unit Score", required=True,
        readonly=True, domain=[
            ('score_user_unit', '>=', 1), ('score_user_unit', '<=', 5)])
    comment = fields.Char("Comment", size=COMMENT_MAX, readonly=True)
    channel = fields.Selection([
            ('h5', "H5 Page"),
            ('api', "App / API"),
            ], "Channel", readonly=True)
    client_key = fields.Char("Client Key", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.maintenance_unit, Index.Range()),
                    (t.create_date, Index.Range())),
                Index(t, (t.elevator, Index.Range()),
                    (t.client_key, Index.Equality())),
                Index(t, (t.region, Index.Range())),
                })
        cls._order = [('create_date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def default_channel(cls):
        return 'h5'

    @classmethod
    def create(cls, vlist):
        from .feedback import fill_from_elevators
        vlist = [v.copy() for v in vlist]
        fill_from_elevators(vlist, ['region', 'maintenance_unit', 'user_unit'])
        return super().create(vlist)

    @classmethod
    def rated_recently(cls, elevator, client_key, since):
        "Whether the client rated the elevator since the given time."
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(Literal(1),
                where=(table.elevator == elevator)
                & (table.client_key == client_key)
                & (table.create_date >= since),
                limit=1))
        return cursor.fetchone() is not None

    @classmethod
    def aggregate(cls, units=None, start=None, end=None):
        """Ratings per maintenance unit between start (included) and end
        (excluded) dates: {unit id: {'count', 'maintenance', 'user_unit',
        'low'}} with the average scores and the number of ratings of 1 or
        2 on the maintenance. For the credit evaluation."""
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        where = table.maintenance_unit != Null
        if units is not None:
            where &= SQL_OPERATORS['in'](table.maintenance_unit, list(units))
        if start:
            where &= table.create_date >= dt.datetime.combine(
                start, dt.time())
        if end:
            where &= table.create_date < dt.datetime.combine(end, dt.time())
        cursor.execute(*table.select(
                table.maintenance_unit,
                Count(table.id),
                Avg(table.score_maintenance),
                Avg(table.score_user_unit),
                Sum(Case((table.score_maintenance <= 2, 1), else_=0)),
                where=where,
                group_by=[table.maintenance_unit]))
        return {unit: {
                'count': count,
                'maintenance': round(float(maintenance), 2),
                'user_unit': round(float(user_unit), 2),
                'low': int(low or 0),
                } for unit, count, maintenance, user_unit, low in cursor}


class RatingUnitYear(ModelSQL, ModelView):
    "Public Rating per Maintenance Unit and Year"
    __name__ = 'elevator.public.rating.unit_year'

    maintenance_unit = fields.Many2One('party.party', "Maintenance Unit",
        readonly=True)
    year = fields.Integer("Year", readonly=True)
    count = fields.Integer("Ratings", readonly=True)
    average_maintenance = fields.Float("Average Maintenance Score",
        digits=(3, 2), readonly=True)
    average_user_unit = fields.Float("Average User Unit Score",
        digits=(3, 2), readonly=True)
    low_count = fields.Integer("Ratings of 1-2 Stars", readonly=True,
        help="Ratings that gave the maintenance 1 or 2 stars.")
    first_rating = Timestamp("First Rating", readonly=True)
    last_rating = Timestamp("Last Rating", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('year', 'DESC'), ('average_maintenance', 'DESC'),
            ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Rating = pool.get('elevator.public.rating')
        rating = Rating.__table__()
        year = Cast(Extract('YEAR', rating.create_date), 'INTEGER')
        # One row per unit and year; the id combines both.
        return rating.select(
            (rating.maintenance_unit * 10000 + year).as_('id'),
            Cast(Max(rating.create_uid), 'INTEGER').as_('create_uid'),
            Min(rating.create_date).as_('create_date'),
            Cast(Literal(None), 'INTEGER').as_('write_uid'),
            Cast(Literal(None), 'TIMESTAMP').as_('write_date'),
            rating.maintenance_unit.as_('maintenance_unit'),
            year.as_('year'),
            Count(rating.id).as_('count'),
            Avg(rating.score_maintenance).as_('average_maintenance'),
            Avg(rating.score_user_unit).as_('average_user_unit'),
            Sum(Case((rating.score_maintenance <= 2, 1), else_=0)).as_(
                'low_count'),
            Min(rating.create_date).as_('first_rating'),
            Max(rating.create_date).as_('last_rating'),
            where=rating.maintenance_unit != Null,
            group_by=[rating.maintenance_unit, year])
