import datetime as dt
import io
import unittest

from trytond.modules.elevator.privacy import mask_phone
from trytond.modules.elevator.tests.tools import LocaleTestMixin
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction
from trytond.transaction import Transaction

from trytond.modules.elevator.web.http import HTTPError
from trytond.modules.elevator.web.ratelimit import RateLimiter
from trytond.modules.elevator.web.text import (
    TextError, clean_text, h, normalise_phone, paragraphs)


def create_elevator(code='31103503022016000001', **values):
    pool = Pool()
    Elevator = pool.get('elevator.elevator')
    Party = pool.get('party.party')
    Place = pool.get('elevator.place')
    Region = pool.get('elevator.region')
    region, = Region.search([('code', '=', '350302')])
    firm, = Party.create([{'name': '莆田市安达电梯工程有限公司',
                'is_maintenance_unit': True, 'public_phone': '0594-2345678'}])
    estate, = Party.create([{'name': '莆田市万达物业服务有限公司',
                'is_user_unit': True}])
    place, = Place.create([{'name': '万达华府', 'region': region.id,
                'category': 'residential'}])
    elevator, = Elevator.create([{'registration_code': code,
                'category': '3110', 'region': region.id, 'place': place.id,
                'place_category': 'residential', 'user_unit': estate.id,
                'maintenance_unit': firm.id, **values}])
    Elevator.put_in_use([elevator])
    return elevator


class WebHelpersTestCase(unittest.TestCase):
    "Shared HTTP helpers of trytond.modules.elevator.web"

    def test_escape(self):
        self.assertEqual(h('<script>"x" & \'y\''),
            '&lt;script&gt;&quot;x&quot; &amp; &#x27;y&#x27;')
        self.assertEqual(paragraphs('a<b\nc\n\nd'),
            '<p>a&lt;b<br>c</p><p>d</p>')

    def test_clean_text(self):
        self.assertEqual(clean_text('  a\u202eb\x00c\u3000 d ', 10), 'abc d')
        self.assertEqual(clean_text('a\r\n\r\n\r\nb', 10, multiline=True),
            'a\n\nb')
        self.assertEqual(clean_text('a\nb', 10), 'a b')
        self.assertIsNone(clean_text('  ', 10))
        for value, reason in [('', 'required'), ('x' * 11, 'too_long'),
                (12, 'invalid')]:
            with self.assertRaises(TextError) as context:
                clean_text(value, 10, required=True)
            self.assertEqual(context.exception.reason, reason)

    def test_phone(self):
        self.assertEqual(normalise_phone('+86 138 1234 5678'), '13812345678')
        self.assertEqual(normalise_phone('0594 2345678'), '0594-2345678')
        for bad in ['12345', '23812345678', 'abc', '1' * 40, None]:
            with self.assertRaises(TextError):
                normalise_phone(bad)
        self.assertEqual(mask_phone('13812345678'), '138****5678')
        self.assertEqual(mask_phone('0594-2345678'), '0594-***5678')

    def test_rate_limiter(self):
        now = [0.0]
        limiter = RateLimiter(3, 60, max_keys=2, clock=lambda: now[0])
        self.assertEqual([limiter.hit('a')[0] for _ in range(4)],
            [True, True, True, False])
        self.assertEqual(limiter.hit('a'), (False, 60))
        now[0] = 30
        self.assertEqual(limiter.hit('a'), (False, 30))
        self.assertTrue(limiter.hit('b')[0])
        now[0] = 61
        self.assertTrue(limiter.hit('a')[0])
        limiter.hit('c')
        # Bounded: the oldest key was dropped.
        self.assertEqual(len(limiter._counts), 2)


class ElevatorPublicTestCase(LocaleTestMixin, ModuleTestCase):
    "Test Elevator Public module"
    module = 'elevator_public'

    @with_transaction()
    def test_card_only_published_fields(self):
        "The card names units and their public phone, nothing personal"
        from .. import service
        pool = Pool()
        elevator = create_elevator()
        card = service.card(pool, elevator.rescue_code)
        self.assertEqual(card, service.card(pool, elevator.public_token))
        self.assertEqual(card['maintenance_unit'], {
                'name': '莆田市安达电梯工程有限公司',
                'public_phone': '0594-2345678'})
        self.assertEqual(card['category'], '3110')
        self.assertEqual(card['district'], '城厢区')
        self.assertEqual(card['safety_status'], 'attention')
        self.assertIn('inspection_unknown',
            [n['code'] for n in card['safety_notes']])
        self.assertIsNone(service.card(pool, '999999'))
        self.assertIsNone(service.card(pool, "x' OR 1=1 --"))
        self.assertIsNone(service.card(pool, 'x' * 65))

    def test_safety_status(self):
        from .. import service
        today = dt.date(2026, 6, 1)
        row = {'state': 'in_use', 'inspection_status': 'ok',
            'last_inspection_conclusion': 'qualified',
            'maintenance_at': dt.datetime(2026, 5, 25)}
        notes = service.safety_notes(row, today, True)
        self.assertEqual((notes, service.safety_status('in_use', notes)),
            ([], 'normal'))
        row['maintenance_at'] = dt.datetime(2026, 5, 1)
        notes = service.safety_notes(row, today, True)
        self.assertEqual((notes, service.safety_status('in_use', notes)),
            (['maintenance_overdue'], 'attention'))
        row['inspection_status'] = 'overdue'
        notes = service.safety_notes(row, today, False)
        self.assertEqual(service.safety_status('in_use', notes), 'warning')
        self.assertEqual(service.safety_status('suspended',
                service.safety_notes({**row, 'state': 'suspended'}, today,
                    True)), 'out_of_service')

    @with_transaction()
    def test_validate_feedback(self):
        "Every field of a submission is checked"
        from .. import service
        pool = Pool()
        elevator = create_elevator()
        good = {'type': 'complaint', 'elevator': elevator.rescue_code,
            'contact_phone': '138 1234 5678', 'text': ' 门 <b>关不上</b> '}
        values, images = service.validate_feedback(pool, good)
        self.assertEqual(values, {'type': 'complaint',
                'elevator': elevator.id, 'contact_phone': '13812345678',
                'text': '门 <b>关不上</b>', 'urgent': False})
        self.assertEqual(images, [])
        # Urgent: a fault report only, a boolean only.
        values, _ = service.validate_feedback(pool, {**good,
                'type': 'fault_report', 'urgent': True})
        self.assertIs(values['urgent'], True)
        values, _ = service.validate_feedback(pool, {**good,
                'urgent': True})
        self.assertIs(values['urgent'], False)
        for change, field in [
                ({'type': 'praise'}, 'type'),
                ({'type': None}, 'type'),
                ({'elevator': '000000'}, 'elevator'),
                ({'elevator': 7}, 'elevator'),
                ({'contact_phone': '110'}, 'contact_phone'),
                ({'text': ''}, 'text'),
                ({'text': 'x' * 1001}, 'text'),
                ({'text': ['x']}, 'text'),
                ({'photos': 'abc'}, 'photos'),
                ({'photos': ['not base64!']}, 'photos'),
                ({'photos': ['aGVsbG8=']}, 'photos'),
                ({'photos': ['aGVsbG8='] * 4}, 'photos'),
                ({'name': 'Zhang San'}, 'name'),
                ({'urgent': 'yes'}, 'urgent'),
                ({'urgent': 1}, 'urgent'),
                ]:
            with self.subTest(change=change):
                with self.assertRaises(HTTPError) as context:
                    service.validate_feedback(pool, {**good, **change})
                self.assertEqual(context.exception.status, 422)
                self.assertEqual(context.exception.field, field)

    def test_clean_photo(self):
        "Photos are re-encoded as JPEG without their metadata"
        from PIL import Image

        from .. import service
        image = Image.new('RGB', (3000, 2000), (200, 30, 30))
        exif = Image.Exif()
        exif[0x010f] = 'PhoneMaker'
        data = io.BytesIO()
        image.save(data, 'PNG', exif=exif)
        cleaned = service.clean_photo(data.getvalue())
        with Image.open(io.BytesIO(cleaned)) as result:
            self.assertEqual(result.format, 'JPEG')
            self.assertEqual(max(result.size), service.PHOTO_MAX_SIDE)
            self.assertFalse(result.getexif())

    @with_transaction()
    def test_submit_and_follow(self):
        "A submission gets a number, a deadline and can be followed"
        from .. import service
        pool = Pool()
        Feedback = pool.get('elevator.public.feedback')
        elevator = create_elevator()
        values, images = service.validate_feedback(pool, {
                'type': 'fault_report', 'elevator': elevator.public_token,
                'contact_phone': '13812345678', 'text': '按钮失灵'})
        key = service.client_key(pool, '192.0.2.1')
        self.assertEqual(key, service.client_key(pool, '192.0.2.1'))
        self.assertNotIn('192.0.2.1', key)
        feedback = service.submit_feedback(pool, values, images, 'api', key)
        self.assertTrue(feedback.number.startswith('P'))
        self.assertEqual(feedback.state, 'received')
        self.assertEqual(feedback.assigned_to, 'maintenance_unit')
        self.assertEqual(feedback.maintenance_unit, elevator.maintenance_unit)
        self.assertEqual(feedback.deadline - feedback.submitted_at,
            dt.timedelta(days=2))
        self.assertEqual(feedback.contact_phone_masked, '138****5678')
        self.assertEqual(service.follow(pool, feedback.number, '5678'),
            feedback)
        self.assertIsNone(service.follow(pool, feedback.number, '0000'))
        self.assertIsNone(service.follow(pool, 'P0', '5678'))
        public = service.feedback_public(pool, feedback)
        self.assertNotIn('13812345678', repr(public))
        self.assertEqual(Feedback.count_recent(
                feedback.submitted_at - dt.timedelta(hours=1),
                client_key=key), 1)
        with self.assertRaises(HTTPError) as context:
            service.check_submission_limits(pool, key, elevator.id, {
                    'feedback_per_address_hour': 1,
                    'feedback_per_elevator_hour': 10})
        self.assertEqual(context.exception.status, 429)

    @with_transaction()
    def test_workflow_and_retention(self):
        "Assign, reply, close; the phone is erased after the retention"
        pool = Pool()
        Feedback = pool.get('elevator.public.feedback')
        Configuration = pool.get('elevator.configuration')
        elevator = create_elevator()
        feedback = Feedback.submit({'type': 'complaint',
                'elevator': elevator.id, 'contact_phone': '13812345678',
                'text': '投诉', 'channel': 'h5', 'client_key': 'k'})
        other = Feedback.submit({'type': 'message',
                'elevator': elevator.id, 'contact_phone': '13912345678',
                'text': '留言', 'channel': 'h5', 'client_key': 'k'})
        Feedback.assign([feedback])
        self.assertEqual(feedback.state, 'assigned')
        self.assertEqual(feedback.assigned_to, 'district')
        Feedback.write([feedback], {'reply': '已责令整改'})
        Feedback.reply_([feedback])
        self.assertFalse(feedback.replied_late)
        Feedback.close([feedback])
        self.assertEqual(feedback.resolution, 'resolved')
        with self.assertRaises(Exception):
            Feedback.write([feedback], {'reply': 'changed'})
        # A closed feedback keeps its phone during the retention period.
        retention = Configuration(1).feedback_retention
        self.assertEqual(retention, dt.timedelta(days=180))
        self.assertEqual(Feedback.cron_erase_personal_data(), [])
        later = feedback.closed_at + retention + dt.timedelta(days=1)
        erased = Feedback.cron_erase_personal_data(today=later.date())
        self.assertEqual(erased, [feedback.id])
        feedback = Feedback(feedback.id)
        self.assertIsNone(feedback.contact_phone)
        self.assertIsNone(feedback.client_key)
        self.assertTrue(feedback.personal_data_erased)
        # Open submissions are never erased.
        self.assertEqual(Feedback(other.id).contact_phone, '13912345678')
        self.assertEqual(Feedback.cron_erase_personal_data(
                today=later.date()), [])

    @with_transaction()
    def test_overdue_warning(self):
        "A passed deadline is flagged and warned about once"
        pool = Pool()
        Feedback = pool.get('elevator.public.feedback')
        elevator = create_elevator()
        late = dt.datetime.now() - dt.timedelta(days=3)
        feedback = Feedback.submit({'type': 'fault_report',
                'elevator': elevator.id, 'contact_phone': '13812345678',
                'text': '故障', 'channel': 'h5', 'client_key': 'k'})
        Feedback.write([feedback], {'deadline': late})
        self.assertTrue(Feedback(feedback.id).overdue)
        self.assertEqual(Feedback.search([('overdue', '=', True)]),
            [feedback])
        self.assertEqual(Feedback.cron_warn_overdue(), [feedback])
        self.assertTrue(Feedback(feedback.id).warned_at)
        self.assertEqual(Feedback.cron_warn_overdue(), [])
        Feedback.assign([feedback])
        Feedback.write([feedback], {'reply': '已维修'})
        Feedback.reply_([feedback])
        self.assertTrue(feedback.replied_late)
        self.assertFalse(Feedback(feedback.id).overdue)

    @with_transaction()
    def test_rating_aggregate(self):
        "Ratings are aggregated per maintenance unit; one per client"
        from .. import service
        pool = Pool()
        Rating = pool.get('elevator.public.rating')
        Summary = pool.get('elevator.public.rating.unit_year')
        elevator = create_elevator()
        for key, scores in [('a', (5, 4)), ('b', (1, 3)), ('c', (3, 5))]:
            values = service.validate_rating(pool, {
                    'elevator': elevator.rescue_code,
                    'score_maintenance': scores[0],
                    'score_user_unit': str(scores[1])})
            service.submit_rating(pool, values, 'api', key)
        with self.assertRaises(HTTPError) as context:
            service.submit_rating(pool, values, 'api', 'c')
        self.assertEqual(context.exception.status, 429)
        for bad in [{'score_maintenance': 6}, {'score_maintenance': True},
                {'score_user_unit': 0}, {'comment': 'x' * 201}]:
            with self.assertRaises(HTTPError):
                service.validate_rating(pool, {
                        'elevator': elevator.rescue_code,
                        'score_maintenance': 3, 'score_user_unit': 3, **bad})
        unit = elevator.maintenance_unit.id
        self.assertEqual(Rating.aggregate(), {unit: {'count': 3,
                    'maintenance': 3.0, 'user_unit': 4.0, 'low': 1}})
        summary, = Summary.search([])
        self.assertEqual((summary.maintenance_unit.id, summary.count,
                summary.low_count), (unit, 3, 1))
        self.assertAlmostEqual(summary.average_maintenance, 3.0)
        units = service.units(pool)
        self.assertEqual(units[0]['rating_count'], 3)
        self.assertIsNone(units[0]['grade'])

    @with_transaction()
    def test_articles(self):
        "Only published articles are public"
        from .. import service
        pool = Pool()
        Article = pool.get('elevator.knowledge.article')
        published = service.articles(pool)
        self.assertTrue(any(a['category'] == 'trapped' for a in published))
        draft, = Article.create([{'title': '草稿', 'body': '<b>x</b>',
                    'category': 'other'}])
        self.assertNotIn(draft.id, [a['id'] for a in service.articles(pool)])
        self.assertIsNone(service.article(pool, draft.id))
        Article.publish([draft])
        self.assertEqual(service.article(pool, draft.id)['body'],
            '<b>x</b>')
        self.assertEqual(draft.published_date,
            Pool().get('ir.date').today())
        Transaction().rollback()


del ModuleTestCase
