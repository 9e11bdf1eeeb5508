"""elevator_public with the rescue and maintenance modules activated: a
rescue request of the public opens the 96196 ticket, the card shows the
last finished maintenance."""
import datetime as dt
import unittest

from trytond.pool import Pool
from trytond.tests.test_tryton import (
    activate_module, drop_db, with_transaction)

from .test_module import create_elevator

MODULES = ['elevator_public', 'elevator_rescue', 'elevator_maintenance']


class ElevatorPublicIntegrationTestCase(unittest.TestCase):
    "elevator_public with elevator_rescue and elevator_maintenance"

    @classmethod
    def setUpClass(cls):
        drop_db()
        activate_module(MODULES)

    @classmethod
    def tearDownClass(cls):
        drop_db()

    @with_transaction()
    def test_rescue_request_opens_ticket(self):
        "A public rescue request goes through Ticket.report"
        pool = Pool()
        Feedback = pool.get('elevator.public.feedback')
        Ticket = pool.get('elevator.rescue.ticket')
        elevator = create_elevator()
        first = Feedback.submit({'type': 'rescue_request',
                'elevator': elevator.id, 'contact_phone': '13812345678',
                'text': '两人被困', 'channel': 'h5', 'client_key': 'k'})
        ticket = first.rescue_ticket
        self.assertTrue(ticket)
        self.assertEqual(ticket.elevator, elevator)
        self.assertEqual(ticket.source, 'public_app')
        self.assertEqual(ticket.level, 1)
        # A second request on the same elevator joins the open ticket.
        second = Feedback.submit({'type': 'rescue_request',
                'elevator': elevator.id, 'contact_phone': '13912345678',
                'text': '还在被困', 'channel': 'api', 'client_key': 'k2'})
        self.assertEqual(second.rescue_ticket, ticket)
        self.assertEqual(Ticket.search_count([]), 1)
        # Other types do not open tickets.
        message = Feedback.submit({'type': 'message',
                'elevator': elevator.id, 'contact_phone': '13812345678',
                'text': '谢谢', 'channel': 'h5', 'client_key': 'k'})
        self.assertFalse(message.rescue_ticket)
        # The regulators see the ticket on the form.
        form = Feedback.fields_view_get(view_type='form')
        self.assertIn('rescue_ticket', form['fields'])

    @with_transaction()
    def test_card_last_maintenance(self):
        "The card and the list show the finished maintenance only"
        from .. import service
        pool = Pool()
        Order = pool.get('elevator.maintenance.order')
        elevator = create_elevator()
        card = service.card(pool, elevator.rescue_code)
        self.assertIsNone(card['last_maintenance'])
        self.assertIn('no_maintenance_record',
            [n['code'] for n in card['safety_notes']])
        now = dt.datetime.now()
        today = dt.date.today()
        done, old, planned = Order.create([{
                    'elevator': elevator.id, 'type': 'half_monthly',
                    'planned_date': today,
                    }, {
                    'elevator': elevator.id, 'type': 'quarterly',
                    'planned_date': today - dt.timedelta(days=40),
                    }, {
                    'elevator': elevator.id, 'type': 'half_monthly',
                    'planned_date': today + dt.timedelta(days=10),
                    }])
        # Written directly: the visit workflow is the maintenance module's.
        Order.write([done], {'state': 'confirmed',
                'check_in': now - dt.timedelta(minutes=45),
                'check_out': now - dt.timedelta(minutes=5)},
            [old], {'state': 'done',
                'check_in': now - dt.timedelta(days=40, minutes=60),
                'check_out': now - dt.timedelta(days=40)})
        card = service.card(pool, elevator.rescue_code)
        self.assertEqual(card['last_maintenance']['type'], 'half_monthly')
        self.assertEqual(card['last_maintenance']['date'],
            (now - dt.timedelta(minutes=5)).date().isoformat())
        self.assertNotIn('no_maintenance_record',
            [n['code'] for n in card['safety_notes']])
        items = service.maintenance(pool, elevator.id)
        self.assertEqual([i['type'] for i in items],
            ['half_monthly', 'quarterly'])
        self.assertEqual(items[0]['duration_minutes'], 40)

    @with_transaction()
    def test_card_maintenance_overdue_from_rules(self):
        "The card says maintenance is overdue as the maintenance rules do"
        from .. import service
        pool = Pool()
        Order = pool.get('elevator.maintenance.order')
        Rule = pool.get('elevator.maintenance.rule')
        elevator = create_elevator()
        now = dt.datetime.now()
        order, = Order.create([{
                    'elevator': elevator.id, 'type': 'half_monthly',
                    'planned_date': dt.date.today() - dt.timedelta(days=18),
                    }])
        Order.write([order], {'state': 'confirmed',
                'check_in': now - dt.timedelta(days=18, minutes=45),
                'check_out': now - dt.timedelta(days=18)})

        def notes():
            return [n['code'] for n in service.card(
                    pool, elevator.rescue_code)['safety_notes']]
        rule, = Rule.search([('category', '=', None),
                ('maintenance_type', '=', 'half_monthly')])
        self.assertEqual(rule.max_interval, 15)
        # 18 days since the last visit: overdue for a 15-day rule.
        self.assertIn('maintenance_overdue', notes())
        # A rule of 20 days for every category: not yet.
        Rule.write([rule], {'max_interval': 20})
        self.assertNotIn('maintenance_overdue', notes())
        # The elevator's own category has a rule of 16 days: overdue.
        Rule.create([{'category': elevator.category,
                    'maintenance_type': 'half_monthly', 'min_duration': 30,
                    'max_interval': 16, 'max_distance': 500}])
        self.assertIn('maintenance_overdue', notes())
