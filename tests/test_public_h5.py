"""The public H5 pages in a real headless Chromium at phone size (360 px,
as WeChat's browser on a small phone): a passenger opens the elevator
card from the QR code's URL, sends a complaint and follows it with the
number and the last four digits of the phone.

Reuses the Chromium driver of tests/support/browser.py and the database and
server helpers of tests/support/public.py.
"""
import contextlib
import json
import shutil
import tempfile
from pathlib import Path

import pytest

from support.browser import Chromium
from support.process import ROOT, wait_for
from support.public import OPEN_LIMITS, Server, database_copy, public_database

WIDTH, HEIGHT = 360, 740
SCREENSHOTS = ROOT / 'var' / 'screenshots'
PHONE = '13612345678'



@pytest.fixture(scope='module')
def h5_server():
    database = database_copy('h5')
    server = Server(database, OPEN_LIMITS, name='h5')
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def phone(tmp_path):
    binary = shutil.which('chromium') or shutil.which('chromium-browser')
    assert binary, "chromium is missing: run scripts/ensure-browser.sh"
    profile = Path(tempfile.mkdtemp(prefix='chromium-', dir=tmp_path))
    chromium = Chromium(binary, profile, tmp_path / 'chromium.log',
        width=WIDTH, height=HEIGHT)
    try:
        chromium.open_page()
        chromium.send('Emulation.setDeviceMetricsOverride', {
                'width': WIDTH, 'height': HEIGHT, 'deviceScaleFactor': 2,
                'mobile': True})
        chromium.send('Emulation.setUserAgentOverride', {
                'userAgent': 'Mozilla/5.0 (Linux; Android 13; Phone) '
                'AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120 Mobile '
                'MicroMessenger/8.0.47', 'acceptLanguage': 'zh-CN,zh'})
        yield chromium
    finally:
        chromium.close()


@contextlib.contextmanager
def evidence(browser, name):
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            browser.screenshot(SCREENSHOTS / f'{name}-failure.png')
        errors = browser.errors()
        if errors:
            print("browser errors:", *errors, sep='\n  ')
        raise


def loaded(browser, selector):
    return browser.wait_js(
        f'document.readyState == "complete" && '
        f'!!document.querySelector({json.dumps(selector)})',
        f"{selector} on the page")


def fits_width(browser):
    "Nothing wider than the phone: no horizontal scrolling."
    return browser.js('document.documentElement.scrollWidth') <= WIDTH


def test_card_complaint_and_follow_on_a_phone(h5_server, phone):
    data = public_database()['data']
    elevator = data['elevators'][0]
    # The URL printed in the QR code: public_url + public token.
    url = f"{h5_server.h5}/e/{elevator['token']}"
    with evidence(phone, 'h5'):
        phone.navigate(url)
        loaded(phone, '#safety-status')
        text = phone.js('document.body.innerText')
        for expected in ['电梯信息公示', '被困请拨打 96196',
                elevator['rescue_code'], '莆田市安达电梯工程有限公司',
                '0594-2345678', '莆田市万达物业服务有限公司', '万达华府',
                '城厢区', '合格', '投诉', '紧急求助', '评价']:
            assert expected in text, expected
        assert fits_width(phone)
        # The hotline is a real call link.
        assert phone.js('document.querySelector("a.hotline")'
            '.getAttribute("href")') == 'tel:96196'
        phone.screenshot(SCREENSHOTS / 'h5-card.png')

        phone.js('document.querySelector("#action-complaint").click()')
        loaded(phone, '#contact_phone')
        assert fits_width(phone)
        phone.type_text('#contact_phone', PHONE)
        phone.type_text('#text', '电梯运行时有异响，<b>请尽快处理</b>')
        phone.screenshot(SCREENSHOTS / 'h5-complaint.png')
        phone.js('document.querySelector("#submit").click()')
        loaded(phone, '#feedback-number')
        number = phone.js(
            'document.querySelector("#feedback-number").innerText').strip()
        assert number.startswith('P')
        assert '已收到您的投诉' in phone.js('document.body.innerText')
        assert fits_width(phone)

        phone.js('document.querySelector("#follow-link").click()')
        loaded(phone, '#phone_last4')
        assert phone.js('document.querySelector("#number").value') == number
        phone.type_text('#phone_last4', PHONE[-4:])
        phone.js('document.querySelector("#follow-submit").click()')
        loaded(phone, '#follow-result')
        result = phone.js(
            'document.querySelector("#follow-result").innerText')
        assert number in result and '投诉' in result and '已受理' in result
        assert PHONE not in phone.js('document.body.innerHTML')
        assert fits_width(phone)
        phone.screenshot(SCREENSHOTS / 'h5-follow.png')

        # A wrong last four digits shows nothing of the submission.
        phone.navigate(f'{h5_server.h5}/follow?number={number}')
        loaded(phone, '#phone_last4')
        phone.type_text('#phone_last4', '0000')
        phone.js('document.querySelector("#follow-submit").click()')
        loaded(phone, '#form-error')
        assert not phone.js('!!document.querySelector("#follow-result")')
        assert not phone.errors()


def test_rescue_request_shows_the_hotline_first(h5_server, phone):
    data = public_database()['data']
    code = data['elevators'][1]['rescue_code']
    with evidence(phone, 'h5-rescue'):
        phone.navigate(f'{h5_server.h5}/e/{code}/rescue')
        loaded(phone, '#contact_phone')
        first = phone.js('document.querySelector("main").firstElementChild'
            '.getAttribute("href")')
        assert first == 'tel:96196'
        box = phone.js('(() => { const r = document.querySelector('
            '"a.hotline").getBoundingClientRect(); '
            'return [r.top, r.width]; })()')
        assert box[0] < HEIGHT / 3 and box[1] > WIDTH * 0.8
        assert fits_width(phone)
        phone.screenshot(SCREENSHOTS / 'h5-rescue.png')


def test_rating_with_stars(h5_server, phone):
    data = public_database()['data']
    code = data['elevators'][2]['token']
    with evidence(phone, 'h5-rate'):
        phone.navigate(f'{h5_server.h5}/e/{code}/rate')
        loaded(phone, '#score_maintenance-4')
        assert fits_width(phone)
        # Tap the 4th star of each row (labels, as a finger would).
        for field, stars in [('score_maintenance', 4),
                ('score_user_unit', 5)]:
            point = phone.js('(() => { const r = document.querySelector('
                f'\'label[for="{field}-{stars}"]\').getBoundingClientRect();'
                ' return {x: r.left + r.width / 2, y: r.top + r.height / 2};'
                ' })()')
            phone.click(point['x'], point['y'])
        assert phone.js('document.querySelector("#score_maintenance-4")'
            '.checked')
        phone.screenshot(SCREENSHOTS / 'h5-rate.png')
        phone.js('document.querySelector("#submit").click()')
        wait_for(lambda: '感谢您的评价' in (phone.js(
                    'document.body && document.body.innerText') or ''),
            "the thanks")
