"""Read and write registry files: CSV (UTF-8 with or without BOM, GBK
fallback) and XLSX (first worksheet, read-only mode for big files).

`read_table(path)` returns a `Table`: the header row, the data rows as lists
of cell values with their row numbers as a spreadsheet shows them (header =
row 1). Any problem with the file itself raises `UnreadableFile`.
"""
import csv
import io
import os
import zipfile
from dataclasses import dataclass

XLSX_SUFFIXES = {'.xlsx', '.xlsm'}


class UnreadableFile(Exception):
    pass


@dataclass
class Table:
    headers: list
    rows: list  # [(row number, [cell values])]


def file_format(path):
    "'xlsx' or 'csv', from the suffix or else from the content."
    suffix = os.path.splitext(path)[1].lower()
    if suffix in XLSX_SUFFIXES:
        return 'xlsx'
    if suffix == '.xls':
        raise UnreadableFile(
            "old binary Excel files (.xls) are not supported: "
            "save the file as .xlsx or .csv")
    with open(path, 'rb') as f:
        if f.read(4) == b'PK\x03\x04':
            return 'xlsx'
    return 'csv'


def read_table(path):
    try:
        if file_format(path) == 'xlsx':
            headers, rows = _read_xlsx(path)
        else:
            headers, rows = _read_csv(path)
    except UnreadableFile:
        raise
    except (OSError, zipfile.BadZipFile, KeyError, ValueError,
            csv.Error) as exception:
        raise UnreadableFile(str(exception) or type(exception).__name__)
    if headers is None:
        raise UnreadableFile("the file is empty")
    return Table(headers, rows)


def decode(data):
    "Text of CSV bytes: UTF-8 (BOM optional), else GB 18030 (a GBK superset)."
    if data.startswith(b'\xef\xbb\xbf'):
        data = data[3:]
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError:
        pass
    try:
        # Excel on Chinese Windows saves "CSV" in the ANSI code page (GBK).
        return data.decode('gb18030')
    except UnicodeDecodeError:
        raise UnreadableFile(
            "the file is neither UTF-8 nor GBK text")


def _read_csv(path):
    with open(path, 'rb') as f:
        text = decode(f.read())
    if '\x00' in text:
        raise UnreadableFile("the file is not a text (CSV) file")
    first_line = text.split('\n', 1)[0]
    try:
        dialect = csv.Sniffer().sniff(first_line, delimiters=',;\t')
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ','
    reader = csv.reader(io.StringIO(text, newline=''), delimiter=delimiter)
    headers, rows = None, []
    for cells in reader:
        if headers is None:
            if any(c.strip() for c in cells):
                headers = cells
            continue
        if any(c.strip() for c in cells):
            rows.append((reader.line_num, cells))
    return headers, rows


def _read_xlsx(path):
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException
    try:
        workbook = openpyxl.load_workbook(path, read_only=True,
            data_only=True)
    except InvalidFileException as exception:
        raise UnreadableFile(str(exception))
    try:
        sheet = workbook.worksheets[0]
        headers, rows = None, []
        for number, cells in enumerate(
                sheet.iter_rows(values_only=True), 1):
            if not any(c is not None and str(c).strip() for c in cells):
                continue
            if headers is None:
                headers = ['' if c is None else str(c) for c in cells]
            else:
                rows.append((number, list(cells)))
        return headers, rows
    finally:
        workbook.close()


def write_csv(path, headers, rows):
    "Write rows (lists) under headers as UTF-8 CSV with a BOM (for Excel)."
    with open(path, 'w', encoding='utf-8-sig', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(headers)
        for row in rows:
            writer.writerow(['' if v is None else _csv_value(v) for v in row])


def _csv_value(value):
    if isinstance(value, bool):
        return '是' if value else '否'
    return value


def write_xlsx(path, headers, rows):
    "Write rows under headers as an XLSX workbook, codes kept as text."
    import xlsxwriter
    workbook = xlsxwriter.Workbook(path, {
            'constant_memory': True,
            'strings_to_numbers': False,
            'default_date_format': 'yyyy-mm-dd',
            })
    try:
        sheet = workbook.add_worksheet('registry')
        sheet.write_row(0, 0, headers)
        for i, row in enumerate(rows, 1):
            sheet.write_row(i, 0, [_csv_value(v) for v in row])
    finally:
        workbook.close()
