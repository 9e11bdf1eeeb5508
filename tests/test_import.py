"""`elevator import` on a real PostgreSQL database.

The database gets the module `elevator` the way the demo does (trytond-admin
in a subprocess) and is dropped at the end. Files are small: the 30,000-row
run is bench/bench_import.py.
"""
import csv
import datetime as dt
import io
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from elevator_platform import importer, scratch_db, tryton_env

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / 'data' / 'sample_registry.csv'
# Rows of the sample file, header excluded.
SAMPLE_ROWS = 20


@pytest.fixture(scope='module')
def database():
    prefix = re.sub(r'[^a-z0-9_]', '_',
        (os.environ.get('DB_NAME') or 'test').lower())[:30]
    name = f'{prefix}_import_{uuid.uuid4().hex[:8]}'
    scratch_db.create_database(name)
    try:
        yield name
    finally:
        scratch_db.drop_database(name)


def run_import(database, path, **kwargs):
    "Import path as the CLI does; return (exit code, stderr text)."
    stream = io.StringIO()
    code = importer.import_file(database, str(path), stream=stream,
        language='en', **kwargs)
    return code, stream.getvalue()


def read_sample():
    with open(SAMPLE, encoding='utf-8-sig', newline='') as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def write_rows(path, headers, rows, encoding='utf-8-sig'):
    with open(path, 'w', encoding=encoding, newline='') as f:
        writer = csv.writer(f)
        writer.writerow(headers)
        writer.writerows(rows)
    return path


def elevators(database, domain=None):
    with tryton_env.transaction(database, readonly=True) as pool:
        Elevator = pool.get('elevator.elevator')
        return {e.registration_code: {
                'id': e.id,
                'rescue_code': e.rescue_code,
                'brand': e.brand,
                'region': e.region.code,
                'district': e.district.code if e.district else None,
                'place': e.place.name if e.place else None,
                'place_region': e.place.region.code if e.place else None,
                'user_unit': e.user_unit.name if e.user_unit else None,
                'user_unit_uscc': e.user_unit.uscc if e.user_unit else None,
                'user_unit_is_user_unit': (e.user_unit.is_user_unit
                    if e.user_unit else None),
                'maintenance_unit': (e.maintenance_unit.name
                    if e.maintenance_unit else None),
                'state': e.state,
                'has_video': e.has_video,
                'floors': e.floors,
                'rated_speed': e.rated_speed,
                'commissioning_date': e.commissioning_date,
                'next_inspection_date': e.next_inspection_date,
                } for e in Elevator.search(domain or [])}


def count(database, model, domain):
    with tryton_env.transaction(database, readonly=True) as pool:
        return pool.get(model).search_count(domain)


def test_sample_file_creates_elevators(database):
    code, output = run_import(database, SAMPLE)
    assert code == 0, output
    assert f'{SAMPLE_ROWS} created' in output
    # The progress bar went to the same stream.
    assert 'import [' in output and '100%' in output

    headers, rows = read_sample()
    column = {h: i for i, h in enumerate(headers)}
    stored = elevators(database)
    assert len(stored) == SAMPLE_ROWS
    first = rows[0]
    elevator = stored[first[column['注册代码']]]
    assert elevator['rescue_code'] == first[column['应急救援识别码']]
    assert elevator['region'] == first[column['区域代码']]
    assert elevator['district'] == first[column['区域代码']][:6]
    assert elevator['place'] == first[column['场所名称']]
    assert elevator['place_region'] == first[column['区域代码']]
    assert elevator['user_unit'] == first[column['使用单位']]
    assert elevator['user_unit_uscc'] == first[
        column['使用单位统一社会信用代码']]
    assert elevator['user_unit_is_user_unit']
    assert elevator['maintenance_unit'] == first[column['维保单位']]
    assert elevator['state'] == 'in_use'
    assert elevator['has_video'] == (first[column['视频监控']] == '是')
    assert elevator['floors'] == int(first[column['层站']])
    assert elevator['commissioning_date'] == dt.date.fromisoformat(
        first[column['投用日期']])
    # One party per credit code, one place per name and region.
    names = {r[column['维保单位']] for r in rows} - {''}
    assert count(database, 'party.party',
        [('name', 'in', list(names))]) == len(names)
    places = {(r[column['场所名称']], r[column['区域代码']]) for r in rows}
    assert count(database, 'elevator.place', []) == len(places)


def test_second_import_updates_not_duplicates(database, tmp_path):
    run_import(database, SAMPLE)
    before = elevators(database)
    parties = count(database, 'party.party', [])
    places = count(database, 'elevator.place', [])

    code, output = run_import(database, SAMPLE)
    assert code == 0, output
    assert f'0 created, 0 updated, {SAMPLE_ROWS} unchanged' in output
    assert elevators(database) == before

    # A changed brand and a user unit renamed in the file but with the same
    # credit code: the elevator is updated, the party found by its code.
    headers, rows = read_sample()
    column = {h: i for i, h in enumerate(headers)}
    rows[1][column['品牌']] = '测试品牌'
    rows[1][column['使用单位']] = '改了名字的物业公司'
    code, output = run_import(database,
        write_rows(tmp_path / 'changed.csv', headers, rows))
    assert code == 0, output
    assert '0 created, 1 updated' in output
    after = elevators(database)
    assert len(after) == SAMPLE_ROWS
    changed = after[rows[1][column['注册代码']]]
    assert changed['brand'] == '测试品牌'
    assert changed['id'] == before[rows[1][column['注册代码']]]['id']
    assert changed['user_unit'] == before[
        rows[1][column['注册代码']]]['user_unit']
    assert count(database, 'party.party', []) == parties
    assert count(database, 'elevator.place', []) == places


def bad_file(tmp_path):
    """Good rows interleaved with one bad row per kind of error. Each bad
    row names its own new place and parties, so that anything written of it
    would show."""
    headers, rows = read_sample()
    column = {h: i for i, h in enumerate(headers)}
    existing_rescue_code = rows[0][column['应急救援识别码']]
    template = rows[0]
    good, bad = [], []
    serial = iter(range(1, 1000))

    def new_row(**changes):
        n = next(serial)
        row = list(template)
        row[column['注册代码']] = f'3110350302{2020}{900000 + n:06d}'
        row[column['设备代码']] = f'31109999920200{n:04d}'
        row[column['应急救援识别码']] = f'{400000 + n}'
        row[column['场所名称']] = f'测试场所{n}'
        row[column['使用单位']] = f'测试使用单位{n}'
        row[column['使用单位统一社会信用代码']] = ''
        row[column['物业公司']] = ''
        row[column['物业公司统一社会信用代码']] = ''
        for header, value in changes.items():
            row[column[header]] = value
        return row

    def add_bad(header, **changes):
        row = new_row(**changes)
        bad.append((len(good) + len(bad) + 2, header, row))
        good.append(new_row())  # a good row right after each bad one

    add_bad('注册代码', 注册代码='3110350302202000001')  # 19 digits
    add_bad('注册代码', 注册代码='31103503992020000001')  # unknown authority
    add_bad('注册代码', 注册代码='99993503022020000001')  # not a category
    add_bad('设备代码', 设备代码='12345')
    add_bad('应急救援识别码', 应急救援识别码='12345')  # 5 of 6 digits
    add_bad('使用单位统一社会信用代码',
        使用单位统一社会信用代码='91350302MA31ABCD0X')  # check digit
    add_bad('区域代码', 区域代码='350399')
    add_bad('投用日期', 投用日期='2015-02-30')
    add_bad('额定载重量', 额定载重量='一千')
    add_bad('纬度', 纬度='95.5')
    add_bad('经度', 经度='-190')
    add_bad('状态', 状态='失踪')
    add_bad('视频监控', 视频监控='也许')
    add_bad('区域代码', 区域代码='')  # required for a new elevator
    add_bad('应急救援识别码', 应急救援识别码=existing_rescue_code)
    # Refused by the database only (2 decimals): found by splitting the
    # batch, not by the checks in Python.
    add_bad('', 额定速度='1.755')
    # Duplicates inside the file: the second occurrence is refused.
    duplicate = good[0][column['注册代码']]
    add_bad('注册代码', 注册代码=duplicate)
    rescue = good[1][column['应急救援识别码']]
    add_bad('应急救援识别码', 应急救援识别码=rescue)

    ordered = {number: row for number, _, row in bad}
    lines, g = [], iter(good)
    for number in range(2, len(good) + len(bad) + 2):
        lines.append(ordered.get(number) or next(g))
    path = write_rows(tmp_path / 'bad.csv', headers, lines)
    return path, bad, good, column


def test_bad_rows_reported_and_skipped(database, tmp_path):
    # The sample gives the rescue code that another elevator already has.
    run_import(database, SAMPLE)
    path, bad, good, column = bad_file(tmp_path)
    errors_csv = tmp_path / 'errors.csv'
    before = count(database, 'elevator.elevator', [])

    code, output = run_import(database, path, errors_file=str(errors_csv))
    assert code == 1, output
    assert (f'{len(good) + len(bad)} rows: {len(good)} created, 0 updated, '
        f'0 unchanged, {len(bad)} rejected') in output

    with open(errors_csv, encoding='utf-8-sig', newline='') as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ['row', 'column', 'reason']
        reported = list(reader)
    by_row = {}
    for error in reported:
        assert error['reason'].strip()
        by_row.setdefault(int(error['row']), []).append(error)
    assert sorted(by_row) == sorted(number for number, _, _ in bad)
    for number, header, row in bad:
        columns = [e['column'] for e in by_row[number]]
        if header:
            assert header in columns, (number, header, by_row[number])
        # Every error is also printed with its row and column.
        assert f'row {number}, ' in output

    reasons = ' '.join(e['reason'] for e in reported)
    for expected in ['must have exactly 20 digits',
            'not a known region code', 'not an elevator category code',
            'must have 18 or 19', 'must have exactly 6 digits',
            'is not valid', "Could not find relation for '350399'",
            "Syntax error for '2015-02-30'", "Syntax error for '一千'",
            'latitude 95.5', 'longitude -190.0', 'not one of the allowed',
            'A value is required', 'already given to another elevator',
            'number of digits', 'is already in row']:
        assert expected in reasons, expected

    # The good rows are in, nothing of the bad rows is.
    assert count(database, 'elevator.elevator', []) == before + len(good)
    stored = elevators(database)
    for row in good:
        assert row[column['注册代码']] in stored
    for number, header, row in bad:
        place = row[column['场所名称']]
        unit = row[column['使用单位']]
        assert count(database, 'elevator.place', [('name', '=', place)]) == 0
        assert count(database, 'party.party', [('name', '=', unit)]) == 0
        if header not in {'注册代码'}:
            assert row[column['注册代码']] not in stored, number


def test_xlsx_with_english_headers(database, tmp_path):
    import xlsxwriter
    path = tmp_path / 'registry.xlsx'
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    date = workbook.add_format({'num_format': 'yyyy-mm-dd'})
    headers = ['registration_code', 'category', 'region', 'place',
        'place_category', 'user_unit', 'floors', 'rated_speed',
        'commissioning_date', 'next_inspection_date', 'has_video', 'state']
    sheet.write_row(0, 0, headers)
    today = dt.date.today()
    for i in range(1, 4):
        sheet.write_string(i, 0, f'311035030320210000{i:02d}')
        sheet.write_number(i, 1, 3110)  # a code typed as a number
        sheet.write_number(i, 2, 350303)
        sheet.write_string(i, 3, '涵江万达广场')
        sheet.write_string(i, 4, 'Public Gathering Place')
        sheet.write_string(i, 5, '涵江万达广场商业管理有限公司')
        sheet.write_number(i, 6, 6)
        sheet.write_number(i, 7, 1.5)
        sheet.write_datetime(i, 8, dt.datetime(2021, 5, i), date)
        sheet.write_datetime(i, 9,
            dt.datetime.combine(today, dt.time()) - dt.timedelta(days=i),
            date)
        sheet.write_boolean(i, 10, True)
        sheet.write_string(i, 11, 'in_use')
    # A 20-digit code typed as a number has lost its last digits.
    sheet.write_number(4, 0, 31103503032021000004)
    sheet.write_number(4, 1, 3110)
    sheet.write_number(4, 2, 350303)
    workbook.close()

    code, output = run_import(database, path)
    assert code == 1, output
    assert '3 created' in output
    assert 'row 5, registration_code: Syntax error' in output
    stored = elevators(database, [('region.code', '=', '350303')])
    elevator = stored['31103503032021000001']
    assert elevator['commissioning_date'] == dt.date(2021, 5, 1)
    assert elevator['has_video'] is True
    assert elevator['rated_speed'] == 1.5
    assert elevator['place'] == '涵江万达广场'
    # Created without a rescue code: the sequence gives one.
    assert elevator['rescue_code']
    with tryton_env.transaction(database, readonly=True) as pool:
        Elevator = pool.get('elevator.elevator')
        overdue, = Elevator.search([
                ('registration_code', '=', '31103503032021000001')])
        assert overdue.inspection_status == 'overdue'


def test_gbk_csv(database, tmp_path):
    headers = ['注册代码', '设备类别', '区域代码', '场所名称', '场所类别',
        '三无电梯']
    rows = [['31203503042019000007', '载货电梯', '350304', '荔城区第七仓库',
            '其他', '否']]
    path = write_rows(tmp_path / 'gbk.csv', headers, rows, encoding='gbk')
    code, output = run_import(database, path)
    assert code == 0, output
    stored = elevators(database, [('registration_code', '=',
                '31203503042019000007')])
    assert stored['31203503042019000007']['place'] == '荔城区第七仓库'


def test_unreadable_files(database, tmp_path):
    missing = tmp_path / 'missing.csv'
    code, output = run_import(database, missing)
    assert code == 2
    assert f'cannot read {missing}' in output

    broken = tmp_path / 'broken.xlsx'
    broken.write_bytes(b'PK\x03\x04 this is not a workbook')
    code, output = run_import(database, broken)
    assert code == 2
    assert 'cannot read' in output

    binary = tmp_path / 'binary.csv'
    binary.write_bytes(bytes(range(256)) * 4)
    code, output = run_import(database, binary)
    assert code == 2

    no_code = write_rows(tmp_path / 'nocode.csv', ['品牌', '型号'],
        [['奥的斯', 'GeN2']])
    code, output = run_import(database, no_code)
    assert code == 2
    assert 'no registration code column' in output

    empty = tmp_path / 'empty.csv'
    empty.write_bytes(b'')
    code, output = run_import(database, empty)
    assert code == 2
    assert 'empty' in output


def test_command_line(database, tmp_path):
    "The installed `elevator` command: exit codes and the error report."
    command = shutil.which('elevator',
        path=str(Path(sys.executable).parent)) or 'elevator'
    env = {**os.environ, 'TRYTOND_CONFIG': ''}
    result = subprocess.run([command, 'import', '-d', database,
            str(tmp_path / 'nothing.xlsx')],
        capture_output=True, text=True, env=env)
    assert result.returncode == 2
    assert 'cannot read' in result.stderr

    headers, rows = read_sample()
    column = {h: i for i, h in enumerate(headers)}
    rows[0][column['纬度']] = '123.4'
    path = write_rows(tmp_path / 'one-bad.csv', headers, rows)
    errors = tmp_path / 'errors.csv'
    result = subprocess.run([command, 'import', '-d', database,
            '--language', 'zh_CN', '--errors', str(errors), str(path)],
        capture_output=True, text=True, env=env)
    assert result.returncode == 1, result.stderr
    # Messages in the user's language (zh_CN here).
    assert '纬度 123.4 必须在 -90 到 90 之间' in result.stderr
    with open(errors, encoding='utf-8-sig') as f:
        lines = f.read().splitlines()
    assert lines[0] == 'row,column,reason'
    assert lines[1].startswith('2,纬度,')
