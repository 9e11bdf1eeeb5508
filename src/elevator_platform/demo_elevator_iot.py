"""Demo data of the IoT monitoring (module elevator_iot).

`generate(pool, rng, elevators)` equips a realistic share of the demo
elevators in use with monitoring devices:

- coverage between 60 % and 85 % of the elevators in use in each district
  (drawn per district), short of the 100 % target of 2024 so that the
  coverage view has gaps to show;
- public gathering places (malls, hospitals, stations) come first and
  mostly get a controller data terminal (often with an AI camera);
  residential estates mostly get an AI camera (the 电动车入梯 / trapped
  passenger detection retrofits), sometimes with a presence sensor and a
  gateway; escalators and moving walks are seldom equipped;
- controller terminals come from the elevator's manufacturer (its own
  remote-monitoring platform), cameras, sensors and gateways from four IoT
  companies created here; about two devices in three were paid by one of
  three investors (insurers' "insurance + service" schemes, the city's
  investment company), the others by the user unit;
- install dates from the programme's start (autumn 2021) to last week,
  firmware versions per vendor and type, video retention of 30 days or
  more except for about one camera in twelve (7 or 15 days: the
  compliance warning);
- most devices were heard from in the last minutes (online), a few not
  for days (offline), a few recently installed never yet (registered);
  scrapped elevators keep their retired devices;
- every device has the MQTT password `elevator-demo` (DESIGN §5: demo
  devices connect with their serial as user name and that password),
  hashed once and the hash reused: `elevator broker-acl` writes it into the
  broker's password file;
- one push client, the remote-monitoring platform of the manufacturer with
  the most controller terminals: client ID `demo-manufacturer`, secret
  `elevator-demo-push` (docs/iot-protocol.md §9 uses it with curl).

Serials are `PT-CT-000001` (controller terminal), `PT-AI-…` (AI camera),
`PT-PS-…` (presence sensor), `PT-GW-…` (gateway). Everything is created in
batched calls; the caller commits.
"""
import datetime as dt
from collections import Counter, defaultdict

from .data_sharing import approved_sharing

PASSWORD = 'elevator-demo'
CLIENT_ID = 'demo-manufacturer'
CLIENT_SECRET = 'elevator-demo-push'
BATCH = 1000
PROGRAMME_START = dt.date(2021, 9, 1)
COVERAGE = (0.62, 0.85)
SERIAL_PREFIX = {
    'controller_terminal': 'PT-CT',
    'ai_camera': 'PT-AI',
    'presence_sensor': 'PT-PS',
    'gateway': 'PT-GW',
    }
IOT_VENDORS = [
    # name, types it sells, firmware versions
    ('莆田市梯安物联网科技有限公司', ['ai_camera', 'gateway'],
        ['TA-2.3.7', 'TA-2.4.0', 'TA-2.4.2']),
    ('福建慧梯智能科技有限公司', ['ai_camera', 'presence_sensor',
            'gateway', 'controller_terminal'],
        ['HT-1.9.3', 'HT-2.0.1']),
    ('厦门云梯安全技术有限公司', ['ai_camera', 'presence_sensor'],
        ['YT-5.1.0', 'YT-5.2.4', 'YT-5.3.0']),
    ('福州闽电物联科技有限公司', ['presence_sensor', 'gateway',
            'controller_terminal'],
        ['MD-3.0.8', 'MD-3.1.2']),
    ]
MANUFACTURER_FIRMWARE = ['4.2.0', '4.3.1', '5.0.2']
INVESTORS = [
    '中国人民财产保险股份有限公司莆田市分公司',
    '中国平安财产保险股份有限公司莆田中心支公司',
    '莆田市国有资产投资经营集团有限公司',
    ]
# Weight of an elevator in use in the draw of the monitored ones.
PLACE_WEIGHT = {
    'public_gathering': 4.0,
    'government': 2.0,
    'public_institution': 2.0,
    'state_owned': 1.5,
    'office': 1.2,
    'residential': 1.0,
    'other': 0.8,
    }
ESCALATORS = {'3310', '3320'}


def generate(pool, rng, elevators):
    """Devices for the demo elevators, their vendors and investors, and the
    demo push client; return the devices created."""
    from trytond.modules.elevator_iot.passwords import hash_password
    Party = pool.get('party.party')
    Device = pool.get('elevator.iot.device')
    Client = pool.get('elevator.iot.client')
    today = dt.date.today()
    now = dt.datetime.now()

    vendors = Party.create([{'name': name} for name, _, _ in IOT_VENDORS])
    investors = Party.create([{'name': name, 'is_investor': True}
            for name in INVESTORS])
    by_type = defaultdict(list)
    for party, (_, types, firmware) in zip(vendors, IOT_VENDORS):
        for type_ in types:
            by_type[type_].append((party.id, firmware))

    monitored = choose_monitored(rng, elevators)
    password_hash = hash_password(PASSWORD)
    counters = Counter()
    vlist = []

    def add(elevator, type_, state, install_date, seen):
        counters[type_] += 1
        values = {
            'serial': f'{SERIAL_PREFIX[type_]}-{counters[type_]:06d}',
            'type': type_,
            'elevator': elevator.id,
            'install_date': install_date,
            'state': state,
            'last_seen': seen,
            'password_hash': password_hash if state != 'retired' else None,
            }
        if type_ == 'controller_terminal' and elevator.manufacturer \
                and rng.random() < 0.8:
            values['vendor'] = elevator.manufacturer.id
            values['firmware'] = rng.choice(MANUFACTURER_FIRMWARE)
        else:
            vendor, firmware = rng.choice(by_type[type_])
            values['vendor'] = vendor
            values['firmware'] = rng.choice(firmware)
        if rng.random() < 0.65:
            values['investor'] = rng.choice(investors).id
        if type_ == 'ai_camera':
            values['video_retention_days'] = (rng.choice([7, 15])
                if rng.random() < 0.08
                else rng.choice([30, 30, 30, 45, 60, 90]))
        vlist.append(values)

    for elevator in monitored:
        install_date = install_day(rng, elevator, today)
        state, seen = connection(rng, install_date, today, now)
        for type_ in device_types(rng, elevator):
            add(elevator, type_, state, install_date, seen)
    # Devices of scrapped elevators were retired with them.
    for elevator in elevators:
        if elevator.state == 'scrapped' and rng.random() < 0.3:
            install_date = install_day(rng, elevator, today)
            add(elevator, rng.choice(['controller_terminal', 'ai_camera']),
                'retired', install_date,
                dt.datetime.combine(install_date, dt.time(12))
                + dt.timedelta(days=rng.randint(30, 300)))

    devices = []
    for i in range(0, len(vlist), BATCH):
        devices.extend(Device.create(vlist[i:i + BATCH]))

    # The push client: the manufacturer with the most terminals.
    terminals = Counter(v['vendor'] for v in vlist
        if v['type'] == 'controller_terminal' and v['state'] != 'retired')
    manufacturer_ids = {e.manufacturer.id for e in elevators
        if e.manufacturer}
    candidates = [(n, -v) for v, n in terminals.items()
        if v in manufacturer_ids]
    vendor_id = -max(candidates)[1] if candidates else vendors[0].id
    vendor = Party(vendor_id)
    # It pushes only under an approved record of the data-sharing register.
    sharing = approved_sharing(pool, f'{vendor.name}远程监测数据接入',
        vendor_id, vendor_id, ['iot'],
        '电梯物联网远程监测数据推送（GB/T 24476），用于困人救援和故障处置。')
    Client.create([{
                'name': f'{vendor.name}远程监测平台',
                'client_id': CLIENT_ID,
                'secret_hash': hash_password(CLIENT_SECRET),
                'vendor': vendor_id,
                'sharing': sharing.id,
                }])
    return devices


def choose_monitored(rng, elevators):
    """The elevators in use that have devices: per district a share drawn
    in COVERAGE, public gathering places first (weighted draw without
    replacement)."""
    by_district = defaultdict(list)
    for elevator in elevators:
        if elevator.state == 'in_use':
            district = elevator.district.id if elevator.district else None
            by_district[district].append(elevator)
    chosen = []
    for district in sorted(by_district, key=lambda d: d or 0):
        candidates = by_district[district]
        share = rng.uniform(*COVERAGE)
        count = round(share * len(candidates))

        def key(elevator):
            weight = PLACE_WEIGHT.get(elevator.place_category, 1.0)
            if elevator.category in ESCALATORS:
                weight *= 0.3
            # Efraimidis-Spirakis: the largest u ** (1 / w) are a weighted
            # sample without replacement.
            return rng.random() ** (1 / weight)
        keys = {e.id: key(e) for e in candidates}
        chosen.extend(sorted(candidates, key=lambda e: keys[e.id],
                reverse=True)[:count])
    chosen.sort(key=lambda e: e.id)
    return chosen


def device_types(rng, elevator):
    "The devices installed in one monitored elevator."
    category = elevator.place_category
    if elevator.category in ESCALATORS:
        return ['ai_camera']
    if category == 'public_gathering':
        types = ['controller_terminal']
        if rng.random() < 0.6:
            types.append('ai_camera')
    elif category == 'residential':
        roll = rng.random()
        if roll < 0.65:
            types = ['ai_camera']
        elif roll < 0.85:
            types = ['ai_camera', 'presence_sensor', 'gateway']
        else:
            types = ['controller_terminal', 'ai_camera']
    else:
        types = ['controller_terminal'] if rng.random() < 0.65 else []
        if not types or rng.random() < 0.5:
            types.append('ai_camera')
    return types


def install_day(rng, elevator, today):
    "A day between the programme's start (or commissioning) and last week."
    start = max(PROGRAMME_START, elevator.commissioning_date
        or PROGRAMME_START)
    end = today - dt.timedelta(days=7)
    if start >= end:
        return end
    span = (end - start).days
    # More installations as the programme went on: 2023-2024 targets.
    return start + dt.timedelta(days=int(span * rng.random() ** 0.6))


def connection(rng, install_date, today, now):
    "(state, last_seen) of the devices of an elevator."
    roll = rng.random()
    if roll < 0.03 and (today - install_date).days < 60:
        return 'registered', None
    if roll < 0.08:
        # Silent for a day or more: offline, yet heard from within the week
        # and so still counted in the coverage.
        return 'offline', now - dt.timedelta(hours=rng.uniform(20, 24 * 6.5))
    return 'online', now - dt.timedelta(seconds=rng.uniform(5, 480))
