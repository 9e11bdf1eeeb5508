"""Columns of the elevator registry file and how their cells are read.

This is the contract of `elevator import` (see docs/import-format.md): each
column has an English key (the field name of `elevator.elevator` where there
is one) and the Chinese headers used by the registers of the market
supervision bureau. Parsing here is pure Python, without the database: a
cell that cannot be read raises `CellError` with an `ir.message` id and its
parameters, and the loader turns it into a translated message.
"""
import datetime as dt
import re
from dataclasses import dataclass, field

# The roles a party can hold in a registry row: column key -> role field of
# party.party (modules/elevator/party.py).
PARTY_ROLES = {
    'user_unit': 'is_user_unit',
    'maintenance_unit': 'is_maintenance_unit',
    'manufacturer': 'is_manufacturer',
    'property_company': 'is_property_company',
    'inspection_agency': 'is_inspection_agency',
    }

# Chinese and English names of the selection values, as clerks type them.
CATEGORY_LABELS = {
    '曳引驱动乘客电梯': '3110', '乘客电梯': '3110', '客梯': '3110',
    '曳引驱动载货电梯': '3120', '载货电梯': '3120', '货梯': '3120',
    '病床电梯': '3130',
    '液压驱动电梯': '3200', '液压电梯': '3200',
    '自动扶梯': '3310', '扶梯': '3310',
    '自动人行道': '3320',
    '杂物电梯': '3400',
    '防爆电梯': '3500',
    '其他电梯': '3600',
    }
PLACE_CATEGORY_LABELS = {
    '公众聚集场所': 'public_gathering', '公共聚集场所': 'public_gathering',
    '住宅': 'residential', '住宅小区': 'residential', '小区': 'residential',
    '办公楼': 'office', '写字楼': 'office', '办公': 'office',
    '政府机关': 'government', '机关': 'government',
    '事业单位': 'public_institution',
    '国有企业': 'state_owned', '国企': 'state_owned',
    '其他': 'other', '其它': 'other',
    }
STATE_LABELS = {
    '未投用': 'draft', '待投用': 'draft', '草稿': 'draft',
    '在用': 'in_use', '使用': 'in_use', '正常': 'in_use',
    '停用': 'suspended', '暂停使用': 'suspended',
    '报废': 'scrapped', '注销': 'scrapped',
    }
TRUE_WORDS = {'1', 'y', 'yes', 'true', 't', 'x', '是', '有', '√', '✓'}
FALSE_WORDS = {'0', 'n', 'no', 'false', 'f', '否', '无', '没有', '×', '✗'}


class CellError(Exception):
    "A cell that cannot be read: ir.message id and its parameters."

    def __init__(self, message_id, **params):
        super().__init__(message_id, params)
        self.message_id = message_id
        self.params = params


@dataclass(frozen=True)
class Column:
    key: str
    kind: str
    headers: tuple = ()
    # For 'selection' columns: the field of elevator.elevator whose keys
    # and labels are accepted, plus the Chinese labels.
    labels: dict = field(default_factory=dict)
    # Unit suffixes accepted after numbers, e.g. "1000kg".
    units: tuple = ()


COLUMNS = [
    Column('registration_code', 'code', ('注册代码', '设备注册代码',
            '注册登记代码')),
    Column('equipment_code', 'code', ('设备代码', '设备识别码')),
    Column('certificate_number', 'text', ('使用登记证编号', '使用登记证号',
            '登记证编号')),
    Column('rescue_code', 'code', ('应急救援识别码', '救援识别码',
            '应急救援码', '96196识别码')),
    Column('category', 'selection', ('设备类别', '设备品种', '类别代码',
            '设备类别代码'), labels=CATEGORY_LABELS),
    Column('brand', 'text', ('品牌', '设备品牌')),
    Column('model', 'text', ('型号', '规格型号', '设备型号')),
    Column('place', 'text', ('场所名称', '使用场所', '所在场所', '小区名称')),
    Column('place_category', 'selection', ('场所类别', '场所类型',
            '使用场所类别'), labels=PLACE_CATEGORY_LABELS),
    Column('region', 'code', ('区域代码', '区县/区域', '区县', '区域',
            '所在区域', '区县代码', '行政区划代码', '街道/乡镇代码')),
    Column('address', 'text', ('地址', '详细地址', '场所地址')),
    Column('building', 'text', ('楼栋', '楼栋单元', '楼栋/单元')),
    Column('user_unit', 'text', ('使用单位', '使用单位名称')),
    Column('user_unit_uscc', 'uscc', ('使用单位统一社会信用代码',
            '使用单位信用代码')),
    Column('maintenance_unit', 'text', ('维保单位', '维护保养单位',
            '维保单位名称')),
    Column('maintenance_unit_uscc', 'uscc', ('维保单位统一社会信用代码',
            '维保单位信用代码')),
    Column('manufacturer', 'text', ('制造单位', '制造商', '生产单位')),
    Column('manufacturer_uscc', 'uscc', ('制造单位统一社会信用代码',
            '制造单位信用代码')),
    Column('property_company', 'text', ('物业公司', '物业服务企业',
            '物业单位')),
    Column('property_company_uscc', 'uscc', ('物业公司统一社会信用代码',
            '物业服务企业统一社会信用代码')),
    Column('inspection_agency', 'text', ('检验机构', '检验单位')),
    Column('inspection_agency_uscc', 'uscc', ('检验机构统一社会信用代码',)),
    Column('latitude', 'coordinate', ('纬度',)),
    Column('longitude', 'coordinate', ('经度',)),
    Column('floors', 'floors', ('层站', '层数', '层/站', '层站门')),
    Column('rated_load', 'int', ('额定载重量', '额定载荷', '载重量'),
        units=('kg', '公斤', '千克')),
    Column('rated_speed', 'float', ('额定速度', '速度'),
        units=('m/s', '米/秒')),
    Column('manufacture_date', 'date', ('制造日期', '出厂日期')),
    Column('commissioning_date', 'date', ('投用日期', '投入使用日期',
            '使用日期')),
    Column('next_inspection_date', 'date', ('下次检验日期', '下次定期检验日期',
            '检验有效期至')),
    Column('orphan', 'bool', ('三无电梯', '是否三无电梯')),
    Column('has_video', 'bool', ('视频监控', '是否有视频监控', '有无视频监控')),
    Column('state', 'selection', ('状态', '设备状态', '使用状态'),
        labels=STATE_LABELS),
    ]
COLUMNS_BY_KEY = {c.key: c for c in COLUMNS}
# Columns written as they are on elevator.elevator (the others are
# references resolved by the loader).
ELEVATOR_FIELDS = [c.key for c in COLUMNS if c.key not in {
        'place', 'region', 'address', 'user_unit_uscc',
        'maintenance_unit_uscc', 'manufacturer_uscc',
        'property_company_uscc', 'inspection_agency_uscc'}
    and c.key not in PARTY_ROLES]


def chinese_label(key, value):
    "The Chinese label of a selection value, for files written for people."
    column = COLUMNS_BY_KEY[key]
    if column.kind == 'selection' and key != 'category':
        for label, selection_key in column.labels.items():
            if selection_key == value:
                return label
    return value


def normalize_header(text):
    """Header as compared: no BOM, blanks, required-marks or bracketed unit
    ("*额定速度(m/s)" -> "额定速度"), lower case."""
    text = str(text or '').replace('\ufeff', '')
    text = re.sub(r'[(（\[【].*?[)）\]】]', '', text)
    text = re.sub(r'[\s*＊:：]', '', text)
    return text.lower()


_HEADER_INDEX = {}
for _column in COLUMNS:
    for _name in (_column.key, *_column.headers):
        _HEADER_INDEX[normalize_header(_name)] = _column.key


def match_headers(headers):
    """Return ({position: key}, [unknown headers]) for the header row.
    A key given twice keeps its first column."""
    positions, unknown, seen = {}, [], set()
    for i, header in enumerate(headers):
        key = _HEADER_INDEX.get(normalize_header(header))
        if key is None:
            if str(header or '').strip():
                unknown.append(str(header).strip())
        elif key not in seen:
            positions[i] = key
            seen.add(key)
    return positions, unknown


def is_blank(value):
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value):
    if isinstance(value, float) and value.is_integer():
        # Spreadsheets give codes typed as numbers back as floats.
        value = int(value)
    return str(value).strip()


def parse_text(value, column):
    return _text(value)


def parse_code(value, column):
    if isinstance(value, float) and abs(value) >= 2 ** 53:
        # A long code typed as a number: the spreadsheet kept only its
        # first 15-17 digits, the rest cannot be trusted.
        raise CellError('ir.msg_value_syntax_error', value=value)
    # Spreadsheets show codes with spaces or a leading apostrophe (the
    # "store as text" mark); neither is part of the code.
    return re.sub(r"\s", '', _text(value)).lstrip("'").upper()


def parse_uscc(value, column):
    return re.sub(r"[\s-]", '', _text(value)).upper()


def _number_text(value, column):
    text = _text(value).replace(',', '').replace('，', '')
    lowered = text.lower()
    for unit in column.units:
        if lowered.endswith(unit):
            text = text[:-len(unit)].strip()
            break
    return text


def parse_int(value, column):
    if isinstance(value, bool):
        raise CellError('ir.msg_value_syntax_error', value=value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = _number_text(value, column)
    if re.fullmatch(r'[+-]?\d+(\.0*)?', text):
        return int(float(text))
    raise CellError('ir.msg_value_syntax_error', value=_text(value))


def parse_floors(value, column):
    "Floors, also written as floors/stops: '18', '18/18', '18层18站18门'."
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return parse_int(value, column)
    text = _text(value)
    match = re.fullmatch(r'(\d+)\s*(?:(?:层|/|／)\s*(?:\d+\s*站?)?'
        r'\s*(?:(?:/|／)?\s*\d+\s*门?)?)?', text)
    if match:
        return int(match.group(1))
    raise CellError('ir.msg_value_syntax_error', value=text)


def parse_float(value, column):
    if isinstance(value, bool):
        raise CellError('ir.msg_value_syntax_error', value=value)
    if isinstance(value, (int, float)):
        return float(value)
    text = _number_text(value, column)
    try:
        number = float(text)
    except ValueError:
        raise CellError('ir.msg_value_syntax_error', value=_text(value))
    if number != number or number in {float('inf'), float('-inf')}:
        raise CellError('ir.msg_value_syntax_error', value=_text(value))
    return number


def parse_coordinate(value, column):
    # GPS readers give more decimals than the field keeps (6, about 0.1 m).
    return round(parse_float(value, column), 6)


_EXCEL_EPOCH = dt.date(1899, 12, 30)


def parse_date(value, column):
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # A date cell without date format: the spreadsheet's serial number.
        if 1 <= value < 2958466:
            return _EXCEL_EPOCH + dt.timedelta(days=int(value))
        raise CellError('ir.msg_value_syntax_error', value=value)
    text = _text(value)
    match = (re.fullmatch(r'(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?'
            r'(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?', text)
        or re.fullmatch(r'(\d{4})(\d{2})(\d{2})', text))
    if match:
        try:
            return dt.date(*map(int, match.groups()))
        except ValueError:
            pass
    raise CellError('ir.msg_value_syntax_error', value=text)


def parse_bool(value, column):
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise CellError('ir.msg_selection_validation_record', value=text)


def parse_selection(value, column, selection):
    """Accept the key, the English label or a Chinese label of a selection
    given as [(key, label)]."""
    text = _text(value)
    keys = {k for k, _ in selection if k}
    if text in keys:
        return text
    for key, label in selection:
        if key and text.lower() == str(label).lower():
            return key
    key = column.labels.get(text)
    if key in keys:
        return key
    raise CellError('ir.msg_selection_validation_record', value=text)


PARSERS = {
    'text': parse_text,
    'code': parse_code,
    'uscc': parse_uscc,
    'int': parse_int,
    'floors': parse_floors,
    'float': parse_float,
    'coordinate': parse_coordinate,
    'date': parse_date,
    'bool': parse_bool,
    }


def parse_cell(key, value, selections):
    """Return the Python value of the cell, None for a blank cell; raise
    CellError. `selections` maps selection column keys to [(key, label)]."""
    if is_blank(value):
        return None
    column = COLUMNS_BY_KEY[key]
    if column.kind == 'selection':
        return parse_selection(value, column, selections[key])
    return PARSERS[column.kind](value, column)
