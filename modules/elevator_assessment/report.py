"""The assessment reports as PDF and XLSX: the data of each report is built
here from the records (with the user's access rights on the records the
report is about), then rendered by trytond.modules.elevator.reports. The same
builders serve the web client (report actions) and `elevator report`."""
import datetime as dt

from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.pool import Pool
from trytond.report import Report
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import (
    Button, StateReport, StateTransition, StateView, Wizard)

from . import figures
from .common import (
    add_months, local_time, model, period_bounds, utc_now)
from .credit import consequence
from .district import snapshot_language

RECORD_LIMIT = 100


def _now():
    "Local now (naive) of the platform's clock, as printed on reports."
    return local_time(utc_now())


def _stamp(timestamp):
    value = local_time(timestamp)
    return value.strftime('%Y-%m-%d %H:%M') if value else ''


def _authority():
    return Pool().get('elevator.configuration')(1).authority_name


def snapshot_text(state, as_of, published_at):
    "How the data snapshot of a table or an evaluation is described."
    if state == 'published':
        return (f"已发布（{_stamp(published_at)}），数据截至 {_stamp(as_of)}，"
            "发布后不再变动")
    if as_of:
        return f"草稿（未发布），数据截至 {_stamp(as_of)}，可能重新计算"
    return "草稿（尚未计算）"


def _period_text(name, start, end):
    return f"{name}（{start.isoformat()} 至 {end.isoformat()}）"


def _indicators(lines):
    from trytond.modules.elevator.reports.assessment import Indicator
    seen = {}
    for line in sorted(lines, key=lambda l: (l.sequence or 0, l.code)):
        if line.code not in seen:
            seen[line.code] = Indicator(line.code, line.name, line.kind,
                line.weight, line.direction, line.target, line.zero_at)
    return list(seen.values())


def _line(line):
    from trytond.modules.elevator.reports.assessment import Line
    return Line(line.numerator, line.denominator, line.value, line.score,
        line.target, line.zero_at)


def district_table_data(period):
    "The DistrictTable of a period, with the rows the user may read."
    from trytond.modules.elevator.reports.assessment import (
        DistrictRow, DistrictTable)
    from trytond.modules.elevator.reports.document import Meta
    pool = Pool()
    District = pool.get('elevator.assessment.district')
    rows = District.search([('period', '=', period.id)])
    rows.sort(key=lambda r: (r.rank is None, r.rank or 0,
            r.district.code))
    lines = [l for r in rows for l in r.lines]
    meta = Meta(
        authority=period.authority or _authority(),
        title="区县电梯安全考核表",
        period=_period_text(period.name, period.start_date,
            period.end_date),
        snapshot=snapshot_text(period.state, period.as_of,
            period.published_at),
        generated_at=_now(),
        draft=period.state != 'published',
        subject="电梯安全工作纳入政府质量安全责任考核",
        notes=["数据来源：莆田市电梯安全智慧监管平台（96196应急救援、维保公众监督、"
            "物联网远程监测）。"])
    return DistrictTable(meta, _indicators(lines), [
            DistrictRow(r.rank, r.district.name, r.elevator_count, r.total,
                {l.code: _line(l) for l in r.lines})
            for r in rows], period.parameters or '')


def credit_grades_data(evaluations):
    "The CreditGrades of evaluations of one year."
    from trytond.modules.elevator.reports.assessment import CreditGrades, UnitRow
    from trytond.modules.elevator.reports.document import Meta
    evaluations = sorted(evaluations, key=lambda e: (
            e.rank is None, e.rank or 0, e.maintenance_unit.rec_name))
    years = {e.year for e in evaluations}
    year = min(years) if years else dt.date.today().year
    first = evaluations[0] if evaluations else None
    published = bool(evaluations) and all(
        e.state == 'published' for e in evaluations)
    if first:
        snapshot = snapshot_text('published' if published else 'draft',
            first.as_of, max((e.published_at for e in evaluations
                    if e.published_at), default=None))
        thresholds = (first.grade_a, first.grade_b, first.grade_c)
    else:
        snapshot = snapshot_text('draft', None, None)
        thresholds = Pool().get(
            'elevator.assessment.configuration')(1).thresholds
    meta = Meta(
        authority=(first.authority if first else None) or _authority(),
        title="电梯维保单位质量安全信用等级评价结果",
        period=f"{year}年度",
        snapshot=snapshot,
        generated_at=_now(),
        draft=not published,
        subject="维保质量安全信用等级评价",
        notes=["A级：守信单位；B级：一般守信；C级：增加监督检查频次；"
            "D级：约谈、限期两个月整改。"])
    lines = [l for e in evaluations for l in e.lines]
    return CreditGrades(meta, year, thresholds,
        {g: consequence(g) for g in 'ABCD'}, _indicators(lines), [
            UnitRow(e.rank, e.maintenance_unit.rec_name, e.elevator_count,
                e.score, NOT_RATED if e.grade == 'not_rated' else e.grade,
                e.consequence,
                {l.code: _line(l) for l in e.lines})
            for e in evaluations],
        first.parameters if first else '')


# How the reports (in Chinese) show a unit not rated.
NOT_RATED = "不予评级"


def brief_districts(region):
    "The districts a brief of the region covers (city: every district)."
    pool = Pool()
    Region = pool.get('elevator.region')
    if region.level in {'district', 'zone'}:
        return [region]
    return Region.search([
            ('parent', 'child_of', [region.id]),
            ('level', 'in', ['district', 'zone']),
            ], order=[('code', 'ASC')])


def check_region_access(districts):
    """Refuse a brief of districts outside the user's data scope (the record
    rules of the live figures, those of the districts he supervises)."""
    Live = Pool().get('elevator.assessment.live')
    if Transaction().check_access and districts:
        Live.read([d.id for d in districts], ['id'])


def brief_data(region, year, month, today=None):
    "The Brief of region (city or district) for the month."
    from trytond.modules.elevator.reports.brief import BREAKDOWN, Brief
    from trytond.modules.elevator.reports.document import Meta
    pool = Pool()
    Elevator = pool.get('elevator.elevator')
    start, end = period_bounds('month', dt.date(year, month, 1))
    previous_start, previous_end = period_bounds('month',
        add_months(start, -1))
    districts = brief_districts(region)
    check_region_access(districts)
    ids = [d.id for d in districts]
    current = figures.brief(ids, start, end)
    previous = figures.brief(ids, previous_start, previous_end)
    attention = []
    with without_check_access():
        ranked = figures.attention(ids, start, end)
        elevators = {e.id: e for e in Elevator.browse([r[0] for r in ranked])}
        for elevator_id, trapped, faults in ranked:
            elevator = elevators[elevator_id]
            attention.append((elevator.registration_code,
                    ' '.join(filter(None, [
                                elevator.place.name if elevator.place
                                else '', elevator.building or ''])),
                    elevator.district.name if elevator.district else '',
                    elevator.maintenance_unit.rec_name
                    if elevator.maintenance_unit else '',
                    trapped, faults))
    as_of = _now()
    complete = end < as_of.date()
    meta = Meta(
        authority=_authority(),
        title=f"{region.name}电梯安全月度简报",
        period=f"{year}年{month}月（{start.isoformat()} 至 "
        f"{end.isoformat()}）",
        snapshot=(f"实时数据，截至 {as_of:%Y-%m-%d %H:%M}"
            + ("" if complete else "（本月尚未结束）")),
        generated_at=as_of,
        subject="电梯安全月度简报",
        notes=["在用电梯、超期未检、物联网监测为生成时的状态；其余为当月发生数。"
            "“未启用”表示相应子系统未启用。"])
    return Brief(meta, region.name, f"{year}年{month}月",
        f"{previous_start.year}年{previous_start.month}月",
        _aggregate(current, ids), _aggregate(previous, ids),
        [(d.name, {k: current[d.id].get(k) for k, _ in BREAKDOWN})
            for d in districts],
        attention)


def _aggregate(by_district, ids):
    "The figures of several districts added up (averages weighted)."
    from .figures import BRIEF_KEYS
    result = {}
    for key, _ in BRIEF_KEYS:
        values = [by_district[i][key] for i in ids]
        if all(v is None for v in values):
            result[key] = None
        elif key == 'average_arrival':
            weights = [by_district[i]['rescues_arrived'] or 0 for i in ids]
            pairs = [(v, w) for v, w in zip(values, weights)
                if v is not None and w]
            result[key] = (round(sum(v * w for v, w in pairs)
                    / sum(w for _, w in pairs), 1) if pairs else None)
        else:
            result[key] = sum(v or 0 for v in values)
    return result


def _labels(Model, name):
    "{value: translated label} of a selection field."
    field = Model.fields_get([name])[name]
    return dict(field.get('selection') or [])


def _selection(Model, name, value):
    return _labels(Model, name).get(value, value or '')


def elevator_record_data(elevator):
    "The ElevatorRecord of an elevator, its records as they stand."
    from trytond.modules.elevator.reports.document import Meta
    from trytond.modules.elevator.reports.elevator_record import ElevatorRecord
    pool = Pool()
    Elevator = pool.get('elevator.elevator')
    e = elevator

    def name(record):
        return record.rec_name if record else None

    info = [
        ("注册代码", e.registration_code),
        ("设备代码", e.equipment_code),
        ("使用登记证编号", e.certificate_number),
        ("应急救援识别码", e.rescue_code),
        ("设备类别", _selection(Elevator, 'category', e.category)),
        ("品牌 / 型号", ' '.join(filter(None, [e.brand, e.model]))),
        ("使用地点", ' '.join(filter(None, [
                        e.place.name if e.place else '', e.building or '']))),
        ("场所类别", _selection(Elevator, 'place_category',
                e.place_category)),
        ("所在区域", e.region.rec_name if e.region else None),
        ("区县", e.district.name if e.district else None),
        ("使用单位", name(e.user_unit)),
        ("物业服务企业", name(e.property_company)),
        ("维保单位", name(e.maintenance_unit)),
        ("制造单位", name(e.manufacturer)),
        ("检验机构", name(e.inspection_agency)),
        ("使用状态", _selection(Elevator, 'state', e.state)),
        ("三无电梯", e.orphan),
        ("视频监控", e.has_video),
        ("层站数", e.floors),
        ("额定载重量（kg）", e.rated_load),
        ("额定速度（m/s）", e.rated_speed),
        ("制造日期", e.manufacture_date),
        ("投入使用日期", e.commissioning_date),
        ("上次检验日期", e.last_inspection_date),
        ("上次检验结论", _selection(Elevator, 'last_inspection_conclusion',
                e.last_inspection_conclusion)),
        ("下次检验日期", e.next_inspection_date),
        ("检验状态", _selection(Elevator, 'inspection_status',
                e.inspection_status)),
        ]
    Evaluation = pool.get('elevator.credit.evaluation')
    if e.maintenance_unit:
        evaluations = Evaluation.search([
                ('maintenance_unit', '=', e.maintenance_unit.id),
                ('state', '=', 'published'),
                ], order=[('year', 'DESC')], limit=1)
        if evaluations:
            info.append(("维保单位信用等级",
                    f"{evaluations[0].grade or ''}（{evaluations[0].year}年度）"))
    sections = [_inspections(e)]
    for builder in [_maintenance, _repairs, _rescues, _devices, _events,
            _feedback, _ratings]:
        section = builder(e)
        if section is not None:
            sections.append(section)
    meta = Meta(
        authority=_authority(),
        title="电梯安全档案",
        period=f"{e.registration_code}"
        + (f" · 救援码 {e.rescue_code}" if e.rescue_code else ''),
        snapshot=f"实时数据，截至 {_now():%Y-%m-%d %H:%M}",
        generated_at=_now(),
        subject=e.registration_code,
        notes=["本档案不含来电人、投诉人等个人信息。时间均为北京时间。"])
    return ElevatorRecord(meta, info, sections)


def Section(*args, **kwargs):
    from trytond.modules.elevator.reports.elevator_record import Section
    return Section(*args, **kwargs)


def _search(Model, domain, order):
    "(latest records, count of all) of the elevator."
    records = Model.search(domain, order=order, limit=RECORD_LIMIT)
    count = Model.search(domain, count=True)
    return records, count


def _inspections(e):
    Inspection = Pool().get('elevator.inspection')
    records, count = _search(Inspection, [('elevator', '=', e.id)],
        [('date', 'DESC'), ('id', 'DESC')])
    return Section("定期检验", ["检验日期", "类别", "检验机构", "报告编号",
            "结论", "下次检验", "状态"], [[
                r.date, _selection(Inspection, 'kind', r.kind),
                r.agency.rec_name, r.report_number,
                _selection(Inspection, 'conclusion', r.conclusion),
                r.next_due_date, _selection(Inspection, 'state', r.state)]
            for r in records], [24, 22, 60, 34, 26, 24, 18], count)


def _maintenance(e):
    Order = model('elevator.maintenance.order')
    if Order is None:
        return None
    records, count = _search(Order, [('elevator', '=', e.id)],
        [('planned_date', 'DESC'), ('id', 'DESC')])
    return Section("维保记录", ["单号", "类型", "计划日期", "签到", "签退",
            "时长（分钟）", "按时", "维保单位", "状态"], [[
                r.number, _selection(Order, 'type', r.type),
                r.planned_date, local_time(r.check_in),
                local_time(r.check_out), r.duration, r.on_time,
                r.maintenance_unit.rec_name if r.maintenance_unit else None,
                _selection(Order, 'state', r.state)] for r in records],
        [30, 22, 22, 28, 28, 18, 12, 50, 24], count)


def _repairs(e):
    Repair = model('elevator.repair.order')
    if Repair is None:
        return None
    records, count = _search(Repair, [('elevator', '=', e.id)],
        [('reported_at', 'DESC'), ('id', 'DESC')])
    return Section("维修记录", ["单号", "来源", "报修时间", "故障描述",
            "状态"], [[
                r.number, _selection(Repair, 'source', r.source),
                local_time(r.reported_at), (r.description or '')[:80],
                _selection(Repair, 'state', r.state)] for r in records],
        [28, 22, 28, 130, 22], count)


def _rescues(e):
    Ticket = model('elevator.rescue.ticket')
    if Ticket is None:
        return None
    records, count = _search(Ticket, [('elevator', '=', e.id)],
        [('reported_at', 'DESC'), ('id', 'DESC')])
    rows = []
    for r in records:
        arrival = (round(r.arrival_time.total_seconds() / 60, 1)
            if r.arrival_time else None)
        rows.append([r.number, local_time(r.reported_at),
                _selection(Ticket, 'source', r.source), r.level,
                r.trapped_persons, arrival, r.arrive_in_time,
                _selection(Ticket, 'cause', r.cause),
                _selection(Ticket, 'state', r.state)])
    return Section("困人救援", ["工单号", "报警时间", "来源", "级别", "被困人数",
            "到场（分钟）", "按时到场", "原因", "状态"], rows,
        [28, 28, 22, 12, 16, 20, 16, 34, 20], count,
        note="来电人姓名和电话不在档案中显示。")


def _devices(e):
    Device = model('elevator.iot.device')
    if Device is None:
        return None
    records, count = _search(Device, [('elevator', '=', e.id)],
        [('id', 'ASC')])
    return Section("物联网监测设备", ["序列号", "类型", "状态", "安装日期",
            "最近在线"], [[
                r.serial, _selection(Device, 'type', r.type),
                _selection(Device, 'state', r.state), r.install_date,
                local_time(r.last_seen)] for r in records],
        [50, 40, 22, 26, 32], count)


def _events(e):
    Event = model('elevator.iot.event')
    if Event is None:
        return None
    records, count = _search(Event, [('elevator', '=', e.id)],
        [('occurred_at', 'DESC'), ('id', 'DESC')])
    return Section("故障报警", ["发生时间", "故障", "状态", "恢复时间",
            "后续处置"], [[
                local_time(r.occurred_at), r.fault_type.rec_name,
                _selection(Event, 'state', r.state),
                local_time(getattr(r, 'cleared_at', None)),
                _selection(Event, 'follow_up', getattr(r, 'follow_up', None))
                ] for r in records], [30, 60, 18, 30, 34], count)


def _feedback(e):
    Feedback = model('elevator.public.feedback')
    if Feedback is None:
        return None
    records, count = _search(Feedback, [('elevator', '=', e.id)],
        [('submitted_at', 'DESC'), ('id', 'DESC')])
    return Section("投诉与反馈", ["编号", "类型", "提交时间", "状态",
            "逾期答复"], [[
                r.number, _selection(Feedback, 'type', r.type),
                local_time(r.submitted_at),
                _selection(Feedback, 'state', r.state), r.replied_late]
            for r in records], [34, 26, 30, 22, 18], count,
        note="投诉人联系方式不在档案中显示。")


def _ratings(e):
    Rating = model('elevator.public.rating')
    if Rating is None:
        return None
    records, count = _search(Rating, [('elevator', '=', e.id)],
        [('create_date', 'DESC'), ('id', 'DESC')])
    return Section("公众评价", ["评价时间", "维保评分", "使用单位评分"], [[
                local_time(r.create_date), r.score_maintenance,
                r.score_user_unit] for r in records], [34, 20, 24], count)


def render(kind, fmt, *args):
    """Render report `kind` ('district_table', 'credit_grades', 'brief',
    'elevator_record') as fmt ('pdf' or 'xlsx') from the data built by
    its builder; the CJK font missing is a user error."""
    from trytond.modules.elevator.reports import (
        assessment, brief, elevator_record)
    from trytond.modules.elevator.reports.fonts import CJKFontNotFound
    renderers = {
        ('district_table', 'pdf'): assessment.district_table_pdf,
        ('district_table', 'xlsx'): assessment.district_table_xlsx,
        ('credit_grades', 'pdf'): assessment.credit_grades_pdf,
        ('credit_grades', 'xlsx'): assessment.credit_grades_xlsx,
        ('brief', 'pdf'): brief.brief_pdf,
        ('brief', 'xlsx'): brief.brief_xlsx,
        ('elevator_record', 'pdf'): elevator_record.record_pdf,
        ('elevator_record', 'xlsx'): elevator_record.record_xlsx,
        }
    builders = {
        'district_table': district_table_data,
        'credit_grades': credit_grades_data,
        'brief': brief_data,
        'elevator_record': elevator_record_data,
        }
    with Transaction().set_context(language=snapshot_language()):
        data = builders[kind](*args)
        try:
            return renderers[(kind, fmt)](data)
        except CJKFontNotFound as exception:
            raise UserError(gettext('elevator.msg_report_font_missing',
                    detail=str(exception))) from exception


class _Report(Report):
    kind = None
    format = 'pdf'

    @classmethod
    def _execute(cls, records, header, data, action):
        return cls.format, cls.render_records(
            cls._browse(records), data)

    @classmethod
    def _browse(cls, records):
        return []

    @classmethod
    def render_records(cls, records, data):
        raise NotImplementedError


class DistrictTable(_Report):
    "District Assessment Table (PDF)"
    __name__ = 'elevator.assessment.district_table'
    kind = 'district_table'

    @classmethod
    def _browse(cls, records):
        Period = Pool().get('elevator.assessment.period')
        return Period.browse([int(r) for r in records])

    @classmethod
    def render_records(cls, periods, data):
        period, = periods
        return render(cls.kind, cls.format, period)


class DistrictTableXLSX(DistrictTable):
    "District Assessment Table (XLSX)"
    __name__ = 'elevator.assessment.district_table_xlsx'
    format = 'xlsx'


class CreditGrades(_Report):
    "Credit Grades (PDF)"
    __name__ = 'elevator.credit.grades'
    kind = 'credit_grades'

    @classmethod
    def header_key(cls, record, data):
        # One document per year.
        return (('year', record.year),)

    @classmethod
    def _get_records(cls, ids, model, data):
        records = super()._get_records(ids, model, data)
        return sorted(records, key=lambda r: r.year)

    @classmethod
    def _browse(cls, records):
        Evaluation = Pool().get('elevator.credit.evaluation')
        return Evaluation.browse([int(r) for r in records])

    @classmethod
    def render_records(cls, evaluations, data):
        return render(cls.kind, cls.format, evaluations)


class CreditGradesXLSX(CreditGrades):
    "Credit Grades (XLSX)"
    __name__ = 'elevator.credit.grades_xlsx'
    format = 'xlsx'


class SafetyBrief(_Report):
    "Monthly Safety Brief (PDF)"
    __name__ = 'elevator.assessment.brief'
    kind = 'brief'

    @classmethod
    def render_records(cls, records, data):
        Region = Pool().get('elevator.region')
        region = Region(data['region'])
        return render(cls.kind, cls.format, region, int(data['year']),
            int(data['month']))


class SafetyBriefXLSX(SafetyBrief):
    "Monthly Safety Brief (XLSX)"
    __name__ = 'elevator.assessment.brief_xlsx'
    format = 'xlsx'


class ElevatorRecord(_Report):
    "Elevator Full Record (PDF)"
    __name__ = 'elevator.elevator.full_record'
    kind = 'elevator_record'

    @classmethod
    def _browse(cls, records):
        Elevator = Pool().get('elevator.elevator')
        return Elevator.browse([int(r) for r in records])

    @classmethod
    def render_records(cls, elevators, data):
        elevator, = elevators
        # Read access to the elevator was checked: its records are part
        # of its file, whoever keeps them.
        with without_check_access():
            return render(cls.kind, cls.format, elevator)


class ElevatorRecordXLSX(ElevatorRecord):
    "Elevator Full Record (XLSX)"
    __name__ = 'elevator.elevator.full_record_xlsx'
    format = 'xlsx'


MONTHS = [(str(m), str(m)) for m in range(1, 13)]


class BriefStart(ModelView):
    "Monthly Safety Brief"
    __string__ = "Monthly Safety Brief"
    __name__ = 'elevator.assessment.brief.start'

    region = fields.Many2One('elevator.region', "Region", required=True,
        domain=[('level', 'in', ['city', 'district', 'zone'])],
        help="The city (every district side by side) or a district.")
    year = fields.Integer("Year", required=True)
    month = fields.Selection(MONTHS, "Month", required=True, sort=False)
    format = fields.Selection([
            ('pdf', "PDF"),
            ('xlsx', "XLSX"),
            ], "Format", required=True)

    @classmethod
    def default_region(cls):
        pool = Pool()
        User = pool.get('res.user')
        Region = pool.get('elevator.region')
        regions, _ = User.get_elevator_scope()
        if regions:
            return regions[0]
        cities = Region.search([('level', '=', 'city')], limit=1)
        return cities[0].id if cities else None

    @classmethod
    def default_year(cls):
        return cls._last_month().year

    @classmethod
    def default_month(cls):
        return str(cls._last_month().month)

    @classmethod
    def _last_month(cls):
        today = Pool().get('ir.date').today()
        return add_months(today.replace(day=1), -1)

    @classmethod
    def default_format(cls):
        return 'pdf'


class BriefWizard(Wizard):
    "Monthly Safety Brief"
    __name__ = 'elevator.assessment.brief.print'

    start = StateView('elevator.assessment.brief.start',
        'elevator_assessment.brief_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Print", 'choose', 'tryton-print', default=True),
            ])
    choose = StateTransition()
    print_pdf = StateReport('elevator.assessment.brief')
    print_xlsx = StateReport('elevator.assessment.brief_xlsx')

    def transition_choose(self):
        check_region_access(brief_districts(self.start.region))
        return 'print_xlsx' if self.start.format == 'xlsx' else 'print_pdf'

    def _data(self):
        return {
            'region': self.start.region.id,
            'year': self.start.year,
            'month': int(self.start.month),
            }

    def do_print_pdf(self, action):
        return action, self._data()

    def do_print_xlsx(self, action):
        return action, self._data()
