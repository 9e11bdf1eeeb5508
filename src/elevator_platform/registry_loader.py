"""Bulk writer of the elevator registry, shared by `elevator import` and
`elevator demo-data`.

Rows are dicts {column key: cell value} (see registry_format). Loading runs
in two phases:

1. Every row is parsed and checked in Python (formats, authorities, USCC
   check digits, regions, coordinates, duplicates inside the file). A row
   with any error is reported and left out.
2. The good rows go to the database in batches (default 1,000). Per batch a
   few set-based queries find the elevators, parties and places that already
   exist; the checks that need the database run (rescue codes of other
   elevators, ...); then one batched `create` / `write` per model stores the
   batch, which is committed on its own. If the database still refuses a
   batch (a concurrent writer took a code, ...), the batch is rolled back and
   split in halves until the offending row is alone and reported: the good
   rows land, a bad row never half-lands, and no savepoint is needed.
"""
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sql import Literal
from stdnum.cn import uscc as stdnum_uscc

from trytond.backend import DatabaseDataError, DatabaseIntegrityError
from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.modules.elevator.elevator import (
    equipment_code_error, registration_code_error, rescue_code_error)
from trytond.modules.elevator.geo import coordinates_error
from trytond.modules.elevator.party import USCC_TYPE
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from .registry_format import (
    COLUMNS, COLUMNS_BY_KEY, ELEVATOR_FIELDS, PARTY_ROLES, CellError,
    parse_cell)

BATCH_SIZE = 1000
# Selection columns and the elevator field whose values they take.
SELECTION_FIELDS = ['category', 'place_category', 'state']
# Category of places and elevators when the file does not say.
DEFAULT_PLACE_CATEGORY = 'residential'


@dataclass
class RowError:
    row: int
    column: str
    message: str


@dataclass
class Result:
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list = field(default_factory=list)

    @property
    def rejected(self):
        return len({e.row for e in self.errors})


@dataclass
class Row:
    number: int
    cells: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)

    @property
    def code(self):
        return self.cells.get('registration_code')


class RegistryLoader:
    """Load registry rows into elevator.elevator.

    `columns` maps column keys to (position, header) as they appear in the
    file, for the error report; keys missing there are reported by key.
    `progress` gets `update(count)` after each batch."""

    def __init__(self, pool, columns=None, batch_size=BATCH_SIZE,
            progress=None):
        self.pool = pool
        self.columns = columns or {
            c.key: (i, c.key) for i, c in enumerate(COLUMNS, 1)}
        self.batch_size = batch_size
        self.progress = progress
        self.result = Result()
        # Parties and places known to exist in committed data:
        # uscc -> id, name -> id, (name, region) -> (id, ...).
        self._party_by_uscc = {}
        self._party_by_name = {}
        self._party_roles = defaultdict(set)
        self._place_by_key = {}

    # ---- set-up -------------------------------------------------------

    def _prepare(self):
        pool = self.pool
        Elevator = pool.get('elevator.elevator')
        Region = pool.get('elevator.region')
        Configuration = pool.get('elevator.configuration')
        Date = pool.get('ir.date')
        self.today = Date.today()
        self.authorities = Elevator.known_authorities()
        self.rescue_code_length = Configuration(1).rescue_code_length
        self.region_by_code = {}
        self.regions_by_name = defaultdict(list)
        region = Region.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*region.select(region.id, region.code, region.name,
                where=region.active == Literal(True)))
        for id_, code, name in cursor:
            self.region_by_code[code] = id_
            self.regions_by_name[name].append(id_)
        self.selections = {}
        for name in SELECTION_FIELDS:
            selection = list(Elevator._fields[name].selection)
            # Also the labels as translated in the user's language and in
            # Chinese, the language of the registers.
            for language in {Transaction().language, 'zh_CN'}:
                with Transaction().set_context(language=language):
                    selection += Elevator.fields_get([name])[name][
                        'selection']
            self.selections[name] = selection
        self.names = {}

    def _names(self, key):
        "Translated model and field names for messages about column key."
        if key not in self.names:
            Elevator = self.pool.get('elevator.elevator')
            field_name = key if key in Elevator._fields else None
            names = Elevator.__names__(field_name)
            if field_name is None:
                names['field'] = self.columns.get(key, (0, key))[1]
            self.names[key] = names
        return self.names[key]

    # ---- reporting ----------------------------------------------------

    def _column(self, key):
        return self.columns.get(key, (0, key or ''))

    def _error(self, row, key, message_id, **params):
        position, header = self._column(key)
        names = self._names(key) if key else {}
        params = {
            'row': row.number,
            'column': position,
            'value': '',
            'record': row.code or row.number,
            'elevator': row.code or '',
            **names,
            **params,
            }
        row.errors.append(RowError(row.number, header,
                gettext(message_id, **params)))

    def _fail(self, row, message, key=None):
        row.errors.append(RowError(row.number,
                self._column(key)[1] if key else '', message))

    def _reject(self, rows):
        for row in rows:
            self.result.errors.extend(row.errors)

    # ---- phase 1: parse and check in Python ---------------------------

    def load(self, rows):
        "Load [(row number, {key: value})]; return the Result."
        self._prepare()
        if self.progress:
            self.progress.start()
        parsed = [self._parse(number, cells) for number, cells in rows]
        self.result.total += len(parsed)
        self._check_file_duplicates(parsed)
        bad = [r for r in parsed if r.errors]
        good = [r for r in parsed if not r.errors]
        self._reject(bad)
        if self.progress and bad:
            self.progress.update(len(bad))
        for batch in grouped_slice(good, self.batch_size):
            batch = list(batch)
            self._process(batch)
            if self.progress:
                self.progress.update(len(batch))
        self.result.errors.sort(key=lambda e: e.row)
        return self.result

    def _parse(self, number, cells):
        row = Row(number)
        for key, value in cells.items():
            if key not in COLUMNS_BY_KEY:
                continue
            try:
                value = parse_cell(key, value, self.selections)
            except CellError as error:
                self._error(row, key, error.message_id, **error.params)
                continue
            if value is not None:
                row.cells[key] = value
        self._check_row(row)
        return row

    def _check_row(self, row):
        cells = row.cells
        for key, error in [
                ('registration_code', registration_code_error(
                        row.code, self.authorities, self.today)),
                ('equipment_code', equipment_code_error(
                        cells.get('equipment_code'))),
                ('rescue_code', rescue_code_error(
                        cells.get('rescue_code'), self.rescue_code_length)),
                ]:
            if error:
                message_id, params = error
                self._error(row, key, message_id, **params)
        if 'category' not in cells and row.code and len(row.code) == 20:
            # The registration code starts with the category.
            category = row.code[:4]
            if category in {k for k, _ in self.selections['category']}:
                cells['category'] = category
        latitude, longitude = cells.get('latitude'), cells.get('longitude')
        message_id = coordinates_error(latitude, longitude)
        if message_id:
            key = 'latitude' if 'latitude' in message_id else 'longitude'
            self._error(row, key, message_id, latitude=latitude,
                longitude=longitude)
        for role in PARTY_ROLES:
            code = cells.get(f'{role}_uscc')
            if code and not stdnum_uscc.is_valid(code):
                self._error(row, f'{role}_uscc', 'party.msg_invalid_code',
                    type=self._column(f'{role}_uscc')[1], code=code,
                    party=cells.get(role, ''))
        if 'region' in cells:
            region = self._region_id(cells['region'])
            if region is None:
                self._error(row, 'region', 'ir.msg_relation_not_found',
                    value=cells['region'],
                    model=self._names('region')['field'])
            elif region is False:
                self._error(row, 'region', 'ir.msg_too_many_relations_found',
                    value=cells['region'],
                    model=self._names('region')['field'])
            else:
                cells['region_id'] = region

    def _region_id(self, value):
        "Region id of a code or an unambiguous name; None unknown, False many."
        if value in self.region_by_code:
            return self.region_by_code[value]
        ids = self.regions_by_name.get(value, [])
        if len(ids) > 1:
            return False
        return ids[0] if ids else None

    def _check_file_duplicates(self, rows):
        for key, message_id in [
                ('registration_code',
                    'elevator.msg_import_duplicate_registration_code'),
                ('rescue_code', 'elevator.msg_import_duplicate_rescue_code'),
                ]:
            first = {}
            for row in rows:
                code = row.cells.get(key)
                if not code:
                    continue
                if code in first:
                    self._error(row, key, message_id, code=code,
                        first=first[code])
                else:
                    first[code] = row.number

    # ---- phase 2: the database, one batch at a time -------------------

    def _process(self, rows):
        lookup = self._lookup(rows)
        rows = self._check_with_database(rows, lookup)
        if rows:
            self._store_or_split(rows, lookup)

    def _lookup(self, rows):
        "What the database already has for the rows: one query per kind."
        return {
            'elevators': self._existing_elevators(
                [r.code for r in rows]),
            'rescue_codes': self._rescue_code_owners(
                [r.cells['rescue_code'] for r in rows
                    if r.cells.get('rescue_code')]),
            'parties': self._find_parties(rows),
            }

    def _existing_elevators(self, codes):
        Elevator = self.pool.get('elevator.elevator')
        table = Elevator.__table__()
        cursor = Transaction().connection.cursor()
        columns = ['id', 'registration_code', 'rescue_code', 'region',
            'place', *ELEVATOR_FIELDS, *PARTY_ROLES]
        columns = list(dict.fromkeys(columns))
        existing = {}
        for sub in grouped_slice(codes, self.batch_size):
            cursor.execute(*table.select(
                    *[getattr(table, c) for c in columns],
                    where=table.registration_code.in_(list(sub))))
            for values in cursor:
                values = dict(zip(columns, values))
                existing[values['registration_code']] = values
        return existing

    def _rescue_code_owners(self, codes):
        Elevator = self.pool.get('elevator.elevator')
        table = Elevator.__table__()
        cursor = Transaction().connection.cursor()
        owners = {}
        for sub in grouped_slice(codes, self.batch_size):
            cursor.execute(*table.select(table.rescue_code,
                    table.registration_code,
                    where=table.rescue_code.in_(list(sub))))
            owners.update(cursor)
        return owners

    def _party_keys(self, rows):
        "(row, role, name, uscc) of every party named in rows."
        for row in rows:
            for role in PARTY_ROLES:
                name = row.cells.get(role)
                uscc = row.cells.get(f'{role}_uscc')
                if name or uscc:
                    yield row, role, name, uscc

    def _find_parties(self, rows):
        """Parties of the rows already in the database, by USCC and by
        name: {'uscc': {code: id}, 'name': {name: [(id, uscc)]},
        'uscc_of': {id: code}}; also fills the role cache."""
        pool = self.pool
        Party = pool.get('party.party')
        Identifier = pool.get('party.identifier')
        party = Party.__table__()
        identifier = Identifier.__table__()
        cursor = Transaction().connection.cursor()
        usccs, names = set(), set()
        for _, _, name, uscc in self._party_keys(rows):
            if uscc and uscc not in self._party_by_uscc:
                usccs.add(uscc)
            if name and name not in self._party_by_name:
                names.add(name)
        found = {'uscc': {}, 'name': defaultdict(list), 'uscc_of': {}}
        roles = [getattr(party, r) for r in PARTY_ROLES.values()]
        join = party.join(identifier, 'LEFT',
            condition=(identifier.party == party.id)
            & (identifier.type == USCC_TYPE))
        for column, values in [
                (identifier.code_compact, usccs), (party.name, names)]:
            for sub in grouped_slice(sorted(values), self.batch_size):
                cursor.execute(*join.select(party.id, party.name,
                        identifier.code_compact, *roles,
                        where=column.in_(list(sub)),
                        order_by=[party.id.asc]))
                for id_, name, uscc, *flags in cursor:
                    if uscc:
                        found['uscc'].setdefault(uscc, id_)
                        found['uscc_of'][id_] = uscc
                    if (id_, uscc) not in found['name'][name]:
                        found['name'][name].append((id_, uscc))
                    self._party_roles[id_] = {
                        r for r, f in zip(PARTY_ROLES.values(), flags) if f}
        return found

    def _resolve_party(self, name, uscc, found):
        """Id of the party with the USCC, else with the name (and no other
        USCC), else None: to be created."""
        if uscc:
            if uscc in self._party_by_uscc:
                return self._party_by_uscc[uscc]
            if uscc in found['uscc']:
                return found['uscc'][uscc]
        if name:
            if not uscc and name in self._party_by_name:
                return self._party_by_name[name]
            for id_, code in found['name'].get(name, []):
                if not uscc or not code:
                    return id_
        return None

    def _check_with_database(self, rows, lookup):
        "Checks that need the database; return the rows that pass."
        good = []
        for row in rows:
            cells = row.cells
            existing = lookup['elevators'].get(row.code)
            rescue_code = cells.get('rescue_code')
            owner = lookup['rescue_codes'].get(rescue_code)
            if rescue_code and owner and owner != row.code:
                self._error(row, 'rescue_code',
                    'elevator.msg_rescue_code_unique')
            if not existing:
                for key in ['region', 'category']:
                    if key not in cells:
                        self._error(row, key, 'ir.msg_required_validation')
            for _, role, name, uscc in self._party_keys([row]):
                if not name and self._resolve_party(
                        name, uscc, lookup['parties']) is None:
                    # A new party needs a name.
                    self._error(row, role, 'ir.msg_required_validation')
            if row.errors:
                self._reject([row])
            else:
                good.append(row)
        return good

    def _store_or_split(self, rows, lookup):
        transaction = Transaction()
        try:
            pending = self._store(rows, lookup)
            transaction.commit()
        except (UserError, DatabaseIntegrityError,
                DatabaseDataError) as exception:
            transaction.rollback()
            if len(rows) == 1:
                row, = rows
                self._fail(row, getattr(exception, 'message', None)
                    or str(exception).strip())
                self._reject(rows)
                return
            middle = len(rows) // 2
            for half in (rows[:middle], rows[middle:]):
                # Look again: the database changed under the batch.
                self._store_or_split(half, self._lookup(half))
            return
        self._remember(pending)

    def _remember(self, pending):
        "Cache what a committed batch created."
        created, updated, unchanged, parties, places = pending
        self.result.created += created
        self.result.updated += updated
        self.result.unchanged += unchanged
        for (name, uscc), (id_, roles) in parties.items():
            if uscc:
                self._party_by_uscc[uscc] = id_
            elif name:
                self._party_by_name[name] = id_
            self._party_roles[id_] |= roles
        self._place_by_key.update(places)

    def _store(self, rows, lookup):
        parties = self._store_parties(rows, lookup['parties'])
        places = self._store_places(rows, lookup['elevators'], parties)
        created, updated, unchanged = self._store_elevators(
            rows, lookup['elevators'], parties, places)
        return created, updated, unchanged, parties, places

    def _store_parties(self, rows, found):
        """Create the missing parties and give every party its roles.
        Return {(name, uscc): (id, roles)} for the rows' parties."""
        pool = self.pool
        Party = pool.get('party.party')
        Identifier = pool.get('party.identifier')
        resolved, to_create, add_uscc = {}, {}, {}
        for _, role, name, uscc in self._party_keys(rows):
            flag = PARTY_ROLES[role]
            key = (name, uscc)
            if key in resolved:
                resolved[key][1].add(flag)
                continue
            id_ = self._resolve_party(name, uscc, found)
            if id_ is None:
                # Rows naming the same new party share it.
                new_key = uscc or name
                values = to_create.setdefault(new_key, {
                        'name': name, 'roles': set(), 'keys': set(),
                        'uscc': uscc})
                values['roles'].add(flag)
                values['keys'].add(key)
                continue
            if uscc and id_ not in found['uscc_of'] and (
                    uscc not in found['uscc']):
                # Found by name: the party gets the credit code it lacked.
                add_uscc[id_] = uscc
                found['uscc'][uscc] = id_
                found['uscc_of'][id_] = uscc
            resolved[key] = (id_, {flag})
        if to_create:
            vlist = []
            for values in to_create.values():
                party = {'name': values['name']}
                party.update({f: True for f in values['roles']})
                if values['uscc']:
                    party['identifiers'] = [('create', [{
                                    'type': USCC_TYPE,
                                    'code': values['uscc'],
                                    }])]
                vlist.append(party)
            for values, party in zip(to_create.values(), Party.create(vlist)):
                for key in values['keys']:
                    roles = resolved.setdefault(key, (party.id, set()))[1]
                    roles |= values['roles']
                self._party_roles[party.id] = set(values['roles'])
        if add_uscc:
            Identifier.create([{
                        'party': id_, 'type': USCC_TYPE, 'code': code}
                    for id_, code in add_uscc.items()])
        # Existing parties lacking a role named by the rows get it.
        missing = defaultdict(list)
        for id_, roles in resolved.values():
            for flag in roles - self._party_roles[id_]:
                missing[flag].append(id_)
        args = []
        for flag, ids in missing.items():
            args.extend([Party.browse(sorted(set(ids))), {flag: True}])
        if args:
            Party.write(*args)
        return resolved

    def _store_places(self, rows, existing, parties):
        """Find or create the places of the rows by (name, region).
        Return {(name, region id): place id}."""
        Place = self.pool.get('elevator.place')
        table = Place.__table__()
        cursor = Transaction().connection.cursor()
        wanted = {}
        for row in rows:
            key = self._place_key(row, existing)
            if key and key not in self._place_by_key:
                wanted.setdefault(key, row)
        places = {}
        names = sorted({name for name, _ in wanted})
        for sub in grouped_slice(names, self.batch_size):
            cursor.execute(*table.select(table.id, table.name, table.region,
                    where=table.name.in_(list(sub)),
                    order_by=[table.id.asc]))
            for id_, name, region in cursor:
                places.setdefault((name, region), id_)
        vlist, keys = [], []
        for key, row in wanted.items():
            if key in places:
                continue
            cells = row.cells
            name, region = key
            values = {
                'name': name,
                'region': region,
                'category': cells.get(
                    'place_category', DEFAULT_PLACE_CATEGORY),
                'address': cells.get('address'),
                'latitude': cells.get('latitude'),
                'longitude': cells.get('longitude'),
                }
            company = cells.get('property_company')
            if company or cells.get('property_company_uscc'):
                values['property_company'] = parties[
                    (company, cells.get('property_company_uscc'))][0]
            vlist.append(values)
            keys.append(key)
        if vlist:
            for key, place in zip(keys, Place.create(vlist)):
                places[key] = place.id
        return places

    @staticmethod
    def _place_key(row, existing):
        name = row.cells.get('place')
        if not name:
            return None
        region = row.cells.get('region_id')
        if region is None and row.code in existing:
            region = existing[row.code]['region']
        return (name, region)

    def _elevator_values(self, row, existing, parties, places):
        cells = row.cells
        values = {k: cells[k] for k in ELEVATOR_FIELDS if k in cells}
        if 'region_id' in cells:
            values['region'] = cells['region_id']
        key = self._place_key(row, existing)
        if key:
            values['place'] = self._place_by_key.get(key) or places[key]
        for role in PARTY_ROLES:
            name, uscc = cells.get(role), cells.get(f'{role}_uscc')
            if name or uscc:
                values[role] = parties[(name, uscc)][0]
        return values

    def _store_elevators(self, rows, existing, parties, places):
        Elevator = self.pool.get('elevator.elevator')
        to_create, to_write = [], defaultdict(list)
        unchanged = 0
        for row in rows:
            values = self._elevator_values(row, existing, parties, places)
            current = existing.get(row.code)
            if current is None:
                if 'place_category' not in values:
                    values['place_category'] = DEFAULT_PLACE_CATEGORY
                to_create.append(values)
                continue
            changes = {k: v for k, v in values.items()
                if not _same(current.get(k), v)}
            if changes:
                # Rows with the same changes share one UPDATE.
                to_write[_freeze(changes)].append(current['id'])
            else:
                unchanged += 1
        if to_create:
            Elevator.create(to_create)
        args = []
        for changes, ids in to_write.items():
            args.extend([Elevator.browse(ids), dict(changes)])
        if args:
            Elevator.write(*args)
        updated = sum(len(ids) for ids in to_write.values())
        return len(to_create), updated, unchanged


def _same(old, new):
    if isinstance(old, float) or isinstance(new, float):
        return old is not None and new is not None and abs(old - new) < 1e-9
    if isinstance(old, dt.datetime):
        old = old.date()
    return old == new


def _freeze(values):
    return tuple(sorted(values.items()))
