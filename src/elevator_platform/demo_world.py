"""A deterministic, realistic-looking Putian elevator registry for demos and
benchmarks (no database here: demo_data.py stores it).

Everything comes from one `random.Random(seed)`, drawn in a fixed order, so
the same seed and size give the same regions, units, places and elevator
codes. Only the inspection due dates follow today's date, so that some are
always overdue or due soon.

Distributions are rough public figures for Putian: about 28 % of the
elevators in Licheng, 27 % in Chengxiang, 18 % in Hanjiang, 12 % in
Xianyou, 9 % in Xiuyu and the rest in the management zones; two thirds of
the sites are residential estates; the brand shares follow the Chinese
market (Mitsubishi, Hitachi, Otis, KONE first).
"""
import datetime as dt
import random
from dataclasses import dataclass, field

from stdnum.cn import uscc as stdnum_uscc

CITY = '350300'

# code, name, share of elevators (%), centre (lat, lon), level, towns
# (streets 街道 get codes 001.., towns 镇 100..).
DISTRICTS = [
    ('350302', '城厢区', 27, (25.418, 118.985), 'district',
        ['龙桥街道', '凤凰山街道', '霞林街道', '东海镇', '华亭镇', '常太镇',
            '灵川镇']),
    ('350303', '涵江区', 18, (25.459, 119.116), 'district',
        ['涵东街道', '涵西街道', '三江口镇', '白塘镇', '国欢镇', '梧塘镇',
            '江口镇', '萩芦镇']),
    ('350304', '荔城区', 28, (25.432, 119.015), 'district',
        ['镇海街道', '拱辰街道', '西天尾镇', '黄石镇', '新度镇', '北高镇']),
    ('350305', '秀屿区', 9, (25.318, 119.105), 'district',
        ['笏石镇', '东庄镇', '忠门镇', '东峤镇', '埭头镇', '平海镇', '月塘镇']),
    ('350322', '仙游县', 12, (25.362, 118.692), 'district',
        ['鲤城街道', '鲤南镇', '榜头镇', '郊尾镇', '枫亭镇', '度尾镇', '赖店镇',
            '盖尾镇']),
    ('350371', '湄洲岛国家旅游度假区', 0.5, (25.085, 119.135), 'zone',
        ['湄洲镇']),
    ('350372', '湄洲湾北岸经济开发区', 3, (25.235, 119.065), 'zone',
        ['山亭镇', '东埔镇']),
    ('350373', '莆田高新技术产业开发区', 2.5, (25.452, 119.045), 'zone',
        ['华林片区', '数字产业园片区']),
    ]
URBAN = {'350302', '350303', '350304'}
COMMUNITY_NAMES = (
    '东岩 文献 荔园 步云 延寿 梅峰 英龙 沟头 凤山 霞林 荔浦 下郑 阔口 筱塘 '
    '东阳 坂头 洋尾 后塘 东大 南门 北磨 顶墩 宁海 铁灶 濠浦 龙坡 石室 古山 '
    '溪白 洋西 杜塘 白杜 埔尾 海头 西洪 后黄 锦墩 上林 双池 玉湖 东甲 塘头 '
    '前沁 清浦 木兰 下黄 延宁 东圳 九华 壶山 西埔 仙水 坝下 城东 城西 学园 '
    '金桥 胜利 长寿 紫霄 望江 新塘 江滨 荔峰 拱桥 高阳 联星 东沙 后卓 南湖'
    ).split()

# brand, manufacturer, USCC region, market share (%), equipment-code
# prefix, lift models, escalator models.
BRANDS = [
    ('三菱', '上海三菱电梯有限公司', '310115', 16, '11001',
        ['LEHY-III', 'NEXIEZ-MRL', 'ELENESSA', 'LEHY-H'], ['J系列', 'ZJ系列']),
    ('日立', '日立电梯（中国）有限公司', '440101', 14, '11002',
        ['HGP', 'HGE', 'HOPE-II', 'UAX'], ['VX', 'EX']),
    ('奥的斯', '奥的斯电梯（中国）有限公司', '120116', 12, '11003',
        ['GeN2', 'GeN2-MRL', 'SkyWay', 'GeN3'], ['506NCE', 'LINK']),
    ('通力', '通力电梯有限公司', '321000', 12, '11004',
        ['MonoSpace', 'MiniSpace', 'MonoSpace 700'], ['TravelMaster 110']),
    ('迅达', '迅达（中国）电梯有限公司', '310112', 9, '11005',
        ['3300', '5500', '7000'], ['9300', '9500']),
    ('蒂森克虏伯', '蒂森克虏伯电梯（中国）有限公司', '310115', 8, '11006',
        ['synergy', 'evolution', 'TE-GL'], ['Velino', 'Tugela']),
    ('康力', '康力电梯股份有限公司', '320500', 7, '11007',
        ['KLK2', 'KLK1', 'KLW'], ['KLXF', 'KLXR']),
    ('西奥', '杭州西奥电梯有限公司', '330100', 5, '11008',
        ['XO-STAR', 'XO-21', 'XO-CON'], ['XO-508']),
    ('快意', '快意电梯股份有限公司', '441900', 4, '11009',
        ['KYN', 'KYO'], ['KYF']),
    ('广日', '广州广日电梯工业有限公司', '440101', 4, '11010',
        ['GRPS40', 'GRPS20'], ['GRF']),
    ('东芝', '东芝电梯（中国）有限公司', '310101', 3, '11011',
        ['CV180', 'SPACEL'], ['TE-S']),
    ('永大', '永大电梯设备（中国）有限公司', '310115', 3, '11012',
        ['YP-VF', 'YP-MRL'], ['YE-S']),
    ('富士达', '华升富士达电梯有限公司', '430100', 3, '11013',
        ['GLVF', 'ZEXIA'], ['F-ES']),
    ]
AGENCY = ('福建省特种设备检验研究院莆田分院', '350304')

FIRM_WORDS = (
    '安达 鑫源 恒通 永安 荔城 东方 瑞丰 宏达 福乐 金辉 华信 兴安 壶兰 木兰 '
    '湄洲 南日 天马 九华 凤凰 绶溪 兴化 通达 正泰 百盛 中盛 盛世 嘉禾 和诚 '
    '立信 锦江 信达 华宇 腾达 福瑞 佳诚 安泰 顺达 广源 新特 三迪 莆阳 荔园 '
    '梅峰 延寿 闽中 海西 福莆 宏远 誉达 旭日 长兴 永辉 捷安 安顺 祥和 丰泽 '
    '博远 康泰 振兴 隆盛 远航 泰安 协力'
    ).split()
FIRM_PATTERNS = ['莆田市{}电梯工程有限公司', '福建{}电梯有限公司',
    '莆田{}机电设备有限公司', '莆田市{}电梯安装维修有限公司',
    '福建省{}电梯工程有限公司莆田分公司']
PROPERTY_PATTERNS = ['莆田市{}物业管理有限公司', '福建{}物业服务有限公司',
    '莆田{}物业服务有限公司']
PROPERTY_BRANDS = ['万科物业发展股份有限公司莆田分公司',
    '碧桂园生活服务集团股份有限公司莆田分公司',
    '保利物业服务股份有限公司莆田分公司', '正荣物业服务有限公司莆田分公司',
    '融信物业服务有限公司莆田分公司', '阳光城物业服务有限公司莆田分公司',
    '建发物业服务集团有限公司莆田分公司', '世茂天成物业服务集团有限公司莆田分公司']

ESTATE_PREFIXES = (
    '万达 正荣 碧桂园 融信 阳光城 保利 万科 中梁 建发 世茂 荔园 凤凰 兴化 '
    '木兰 壶兰 绶溪 东圳 九华 天九湾 海峡 金鼎 联创 中骏 三迪 泰禾 金辉 '
    '宝龙 华林 玉湖 学园 文献 城南 城北 观澜 御景 锦江 滨江 汇景 名仕 '
    '东方 南湖 书香 香山 翠园 荔景 梅峰 延寿 龙桥 霞林 荔浦 拱辰 镇海 '
    '鲤城 笏石 涵华 白塘 江口 枫亭'
    ).split()
ESTATE_SUFFIXES = (
    '花园 华府 公馆 小区 新城 家园 名城 御府 一品 苑 天地 国际 首府 壹号 '
    '尚城 中央公园 学府 书院 雅居 山庄 府 城 湾 锦苑 悦府 新村'
    ).split()
# kind, place category, share of sites (%), elevators per site (min, max)
SITE_KINDS = [
    ('estate', 'residential', 62, (2, 40)),
    ('office', 'office', 8, (4, 16)),
    ('mall', 'public_gathering', 4, (8, 36)),
    ('hotel', 'public_gathering', 1, (4, 12)),
    ('hospital', 'public_gathering', 3, (6, 30)),
    ('station', 'public_gathering', 1, (4, 20)),
    ('school', 'public_institution', 4, (1, 6)),
    ('institution', 'public_institution', 3, (1, 6)),
    ('government', 'government', 5, (2, 8)),
    ('state_owned', 'state_owned', 3, (2, 8)),
    ('factory', 'other', 6, (1, 4)),
    ]
HOSPITALS = ['莆田市第一医院', '莆田学院附属医院', '莆田市第二医院',
    '莆田市中医院', '莆田市妇幼保健院', '莆田市涵江医院', '仙游县总医院',
    '莆田市秀屿区医院', '莆田滨海医院', '莆田市口腔医院', '莆田华侨医院',
    '莆田市第三医院', '莆田市城厢区医院', '莆田市荔城区医院', '仙游县中医院']
MALLS = ['莆田万达广场', '莆田正荣财富中心', '凤凰山购物公园', '莆田联创汇',
    '莆田宝龙广场', '涵江万达广场', '仙游正荣广场', '莆田天九湾商业中心',
    '莆田三迪时代广场', '莆田百汇城', '莆田永辉广场', '秀屿吾悦广场']
STATIONS = ['莆田站', '莆田汽车总站', '涵江站', '仙游站', '莆田汽车南站',
    '莆田港客运站']
SCHOOLS = ['莆田学院', '湄洲湾职业技术学院', '莆田第一中学', '莆田第二中学',
    '莆田第四中学', '莆田第五中学', '莆田第六中学', '莆田第十中学',
    '莆田华侨中学', '莆田中山中学', '莆田擢英中学', '仙游第一中学',
    '莆田工贸学校', '莆田艺术学校']
GOVERNMENT = ['莆田市行政服务中心', '莆田市市民中心', '莆田市人民政府',
    '莆田市中级人民法院', '莆田市公安局', '莆田市市场监督管理局']
INSTITUTIONS = ['莆田市图书馆', '莆田市博物馆', '莆田市疾病预防控制中心',
    '莆田市档案馆', '莆田市青少年宫', '莆田市体育中心', '莆田市妇女儿童活动中心']
STATE_OWNED = ['国网莆田供电公司', '中国移动莆田分公司', '中国电信莆田分公司',
    '中国银行莆田分行', '中国工商银行莆田分行', '莆田市水务集团',
    '莆田市国有资产投资集团', '中国联通莆田分公司']
OFFICE_SUFFIXES = ['大厦', '国际中心', '商务中心', '金融中心', '广场写字楼',
    '科技大厦']
HOTEL_NAMES = ['莆田万达嘉华酒店', '莆田温德姆酒店', '莆田三迪希尔顿逸林酒店',
    '莆田凯天大酒店', '莆田荔城酒店', '仙游天福酒店']
SECOND_SITES = ['二期', '三期', '东区', '西区', '北区', '南区']
STREETS = ['荔城中大道', '城港大道', '学园南路', '胜利南街', '东圳路', '梅园东路',
    '天妃路', '八二一南街', '文献东路', '九华路', '筱塘南街', '涵华西路',
    '荔华东大道', '镇海路', '拱辰路', '东大路', '霞林路', '木兰大道']

CATEGORY_SHARES = {
    # site kind -> [(category, weight)]
    'estate': [('3110', 97), ('3200', 1), ('3400', 2)],
    'office': [('3110', 88), ('3120', 6), ('3310', 6)],
    'mall': [('3110', 35), ('3310', 45), ('3320', 10), ('3120', 10)],
    'hotel': [('3110', 80), ('3120', 10), ('3400', 10)],
    'hospital': [('3110', 60), ('3130', 25), ('3400', 10), ('3310', 5)],
    'station': [('3110', 40), ('3310', 50), ('3320', 10)],
    'school': [('3110', 90), ('3400', 10)],
    'institution': [('3110', 95), ('3400', 5)],
    'government': [('3110', 95), ('3120', 5)],
    'state_owned': [('3110', 90), ('3120', 10)],
    'factory': [('3120', 70), ('3110', 20), ('3200', 10)],
    }
STATE_SHARES = [('in_use', 95), ('suspended', 3), ('draft', 1),
    ('scrapped', 1)]
# Old estates (老旧小区, resettlement housing) and the share of their
# elevators left without owner, funds or maintenance (三无): about 4 % of all.
OLD_ESTATE_SHARE = 0.15
ORPHAN_IN_OLD_ESTATE = 0.35

_USCC_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY'


def gb11714_check(code8):
    "Check character of an 8-character organisation code (GB 11714)."
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(
        (int(c) if c.isdigit() else ord(c) - 55) * w
        for c, w in zip(code8, weights))
    check = 11 - total % 11
    return {10: 'X', 11: '0'}.get(check, str(check))


@dataclass
class Region:
    code: str
    name: str
    level: str
    parent: str
    centre: tuple = None
    urban: bool = False


@dataclass
class Unit:
    "A party: maintenance firm, manufacturer, property company, user unit."
    key: str
    name: str
    uscc: str
    roles: set = field(default_factory=set)
    licence_number: str = None
    qualification: str = None
    qualification_valid_until: dt.date = None
    public_phone: str = None


@dataclass
class Site:
    "A place with its elevators' shared attributes."
    name: str
    kind: str
    category: str
    region: str
    district: str
    latitude: float
    longitude: float
    address: str
    property_company: Unit = None
    user_unit: Unit = None
    maintenance_unit: Unit = None
    brand: int = 0
    old: bool = False
    size: int = 1


class DemoWorld:
    def __init__(self, elevators=2000, seed=1, today=None,
            rescue_code_length=6):
        self.n = elevators
        self.seed = seed
        self.today = today or dt.date.today()
        self.rescue_code_length = rescue_code_length
        self.rnd = random.Random(seed)
        self._usccs = set()
        self.regions = self._make_regions()
        self.manufacturers = self._make_manufacturers()
        self.agency = self._make_agency()
        self.firms = self._make_firms()
        self.property_companies = self._make_property_companies()
        self.user_units = []
        self.sites = self._make_sites()
        self.elevators = self._make_elevators()

    # ---- regions ------------------------------------------------------

    def _make_regions(self):
        rnd = self.rnd
        regions = []
        for code, name, _, centre, level, towns in DISTRICTS:
            regions.append(Region(code, name, level, CITY, centre,
                    code in URBAN))
            streets = [t for t in towns if not t.endswith('镇')]
            townships = [t for t in towns if t.endswith('镇')]
            numbered = [(f'{code}{i:03d}', t)
                for i, t in enumerate(streets, 1)]
            numbered += [(f'{code}{i:03d}', t)
                for i, t in enumerate(townships, 100)]
            for town_code, town in numbered:
                town_centre = (centre[0] + rnd.uniform(-0.05, 0.05),
                    centre[1] + rnd.uniform(-0.05, 0.05))
                regions.append(Region(town_code, town, 'town', code,
                        town_centre, code in URBAN))
                suffix = '社区' if town.endswith(('街道', '片区')) else '村'
                names = rnd.sample(COMMUNITY_NAMES, rnd.randint(3, 6))
                for j, community in enumerate(names, 1):
                    kind = '社区' if j == 1 else suffix
                    regions.append(Region(f'{town_code}{j:03d}',
                            community + kind, 'community', town_code,
                            (town_centre[0] + rnd.uniform(-0.015, 0.015),
                                town_centre[1] + rnd.uniform(-0.015, 0.015)),
                            code in URBAN))
        return regions

    def communities(self, district):
        return [r for r in self.regions
            if r.level == 'community' and r.code.startswith(district)]

    # ---- units --------------------------------------------------------

    def make_uscc(self, region, kind='91'):
        """A valid unified social credit code (GB 32100): kind (91
        company, 12 public institution, 11 government), region, organisation
        code with its GB 11714 check character, GB 32100 check character."""
        while True:
            if kind == '91':
                # Companies registered since 2015: "MA" + 6 characters.
                body = 'MA' + ''.join(
                    self.rnd.choice(_USCC_ALPHABET) for _ in range(6))
            else:
                body = ''.join(self.rnd.choice('0123456789')
                    for _ in range(8))
            org = body + gb11714_check(body)
            code = kind + region + org
            code += stdnum_uscc.calc_check_digit(code)
            if code not in self._usccs:
                self._usccs.add(code)
                return code

    def _make_manufacturers(self):
        return [Unit(f'manufacturer-{i}', name,
                self.make_uscc(region), {'is_manufacturer'})
            for i, (_, name, region, *_) in enumerate(BRANDS)]

    def _make_agency(self):
        name, region = AGENCY
        return Unit('agency', name, self.make_uscc(region, '12'),
            {'is_inspection_agency'}, public_phone='0594-2695123')

    def _make_firms(self, count=60):
        rnd = self.rnd
        words = rnd.sample(FIRM_WORDS, count)
        districts = [d[0] for d in DISTRICTS[:5]]
        firms = []
        for i, word in enumerate(words):
            if i % 12 == 5:
                # Manufacturers' own branches maintain too.
                brand = BRANDS[(i // 12) % len(BRANDS)]
                name = brand[1] + '莆田分公司'
            else:
                name = rnd.choice(FIRM_PATTERNS).format(word)
            firms.append(Unit(f'firm-{i}', name,
                    self.make_uscc(rnd.choice(districts)),
                    {'is_maintenance_unit'},
                    licence_number=f'TS3435{rnd.randint(1, 999):03d}-'
                    f'{rnd.randint(2025, 2030)}',
                    qualification=rnd.choices('ABC', [3, 5, 2])[0],
                    qualification_valid_until=dt.date(
                        rnd.randint(2026, 2030), rnd.randint(1, 12), 1),
                    public_phone=f'0594-{rnd.randint(2200000, 2899999)}'))
        # The demo firm of `firm1` works: its qualification is valid (the
        # others' dates are drawn, some expired, as in a real registry).
        firms[0].qualification_valid_until = max(
            firms[0].qualification_valid_until, dt.date(2029, 6, 1))
        return firms

    def _make_property_companies(self, count=120):
        rnd = self.rnd
        names = list(PROPERTY_BRANDS)
        for word in rnd.sample(FIRM_WORDS, len(FIRM_WORDS)):
            if len(names) >= count:
                break
            names.append(rnd.choice(PROPERTY_PATTERNS).format(word))
        districts = [d[0] for d in DISTRICTS[:5]]
        return [Unit(f'property-{i}', name,
                self.make_uscc(rnd.choice(districts)),
                {'is_property_company', 'is_user_unit'},
                public_phone=f'0594-{rnd.randint(2200000, 2899999)}')
            for i, name in enumerate(dict.fromkeys(names))]

    # ---- sites --------------------------------------------------------

    def site_count(self):
        "About 1,500 sites at city scale, fewer for small demos."
        return min(1500, max(20, self.n // 2))

    def _make_sites(self):
        rnd = self.rnd
        district_weights = [d[2] for d in DISTRICTS]
        kind_weights = [k[2] for k in SITE_KINDS]
        firm_weights = [1 / (i + 1) ** 0.7 for i in range(len(self.firms))]
        company_weights = [1 / (i + 1) ** 0.8
            for i in range(len(self.property_companies))]
        brand_weights = [b[3] for b in BRANDS]
        used_names = set()
        named = {'hospital': list(HOSPITALS), 'mall': list(MALLS),
            'station': list(STATIONS), 'school': list(SCHOOLS),
            'government': list(GOVERNMENT), 'institution': list(INSTITUTIONS),
            'state_owned': list(STATE_OWNED), 'hotel': list(HOTEL_NAMES)}
        sites = []
        for i in range(self.site_count()):
            district = rnd.choices(DISTRICTS, district_weights)[0]
            kind, category, _, (low, high) = rnd.choices(
                SITE_KINDS, kind_weights)[0]
            community = rnd.choice(self.communities(district[0]))
            name = self._site_name(kind, district, community, named,
                used_names)
            street = rnd.choice(STREETS)
            site = Site(name, kind, category, community.code, district[0],
                round(community.centre[0] + rnd.uniform(-0.006, 0.006), 6),
                round(community.centre[1] + rnd.uniform(-0.006, 0.006), 6),
                f'莆田市{district[1]}{street}{rnd.randint(1, 999)}号',
                brand=rnd.choices(range(len(BRANDS)), brand_weights)[0],
                size=rnd.randint(low, high))
            site.maintenance_unit = rnd.choices(self.firms, firm_weights)[0]
            site.old = kind == 'estate' and rnd.random() < OLD_ESTATE_SHARE
            if kind in {'estate', 'office', 'mall'}:
                site.property_company = rnd.choices(
                    self.property_companies, company_weights)[0]
            if kind in {'estate', 'office'}:
                site.user_unit = site.property_company
            else:
                site.user_unit = self._site_owner(kind, site, district)
            sites.append(site)
        return sites

    def _site_name(self, kind, district, community, named, used):
        rnd = self.rnd
        for _ in range(1000):
            if named.get(kind):
                name = named[kind].pop(0)
            elif kind == 'estate':
                name = rnd.choice(ESTATE_PREFIXES) + rnd.choice(
                    ESTATE_SUFFIXES)
            elif kind == 'office':
                name = rnd.choice(ESTATE_PREFIXES) + rnd.choice(
                    OFFICE_SUFFIXES)
            elif kind == 'factory':
                name = (f'莆田市{rnd.choice(FIRM_WORDS)}'
                    f'{rnd.choice(["鞋业", "工艺", "食品", "电子", "纺织"])}'
                    '有限公司厂房')
            else:
                name = f'{district[1]}{community.name}{_KIND_NAMES[kind]}'
            if name in used:
                # A second phase of an estate, another campus...
                name += rnd.choice(SECOND_SITES)
            if name not in used:
                used.add(name)
                return name
        raise RuntimeError("out of site names")

    def _site_owner(self, kind, site, district):
        "The user unit of a public site: the hospital, school, office..."
        kinds = {'government': '11', 'school': '12', 'institution': '12',
            'hospital': '12'}
        suffix = {'mall': '商业管理有限公司', 'hotel': '酒店管理有限公司',
            'station': '运营管理有限公司', 'factory': ''}.get(kind, '')
        name = site.name.replace('厂房', '') + suffix
        unit = Unit(f'user-{len(self.user_units)}', name,
            self.make_uscc(district[0], kinds.get(kind, '91')),
            {'is_user_unit'})
        self.user_units.append(unit)
        return unit

    # ---- elevators ----------------------------------------------------

    def _make_elevators(self):
        rnd = self.rnd
        weights = [s.size for s in self.sites]
        counts = [0] * len(self.sites)
        for index in rnd.choices(range(len(self.sites)), weights, k=self.n):
            counts[index] += 1
        low = 5 * 10 ** (self.rescue_code_length - 1)
        # Above the rescue-code sequence of the module (100001...).
        rescue_codes = rnd.sample(range(low, 10 ** self.rescue_code_length),
            self.n)
        sequences = {}
        serials = {}
        elevators = []
        orphan_sites = {i for i, s in enumerate(self.sites) if s.old}
        for index, site in enumerate(self.sites):
            for k in range(counts[index]):
                elevators.append(self._elevator(site, k, index in orphan_sites,
                        rescue_codes[len(elevators)], sequences, serials))
        return elevators

    def _elevator(self, site, k, old_site, rescue_code, sequences, serials):
        rnd = self.rnd
        category = rnd.choices(*zip(*CATEGORY_SHARES[site.kind]))[0]
        escalator = category in {'3310', '3320'}
        brand_index = site.brand if rnd.random() < 0.8 else rnd.choices(
            range(len(BRANDS)), [b[3] for b in BRANDS])[0]
        brand = BRANDS[brand_index]
        year = rnd.choices(range(2000, 2026),
            [1 + min(y - 1999, 2026 - y) for y in range(2000, 2026)])[0]
        if old_site:
            year = rnd.randint(1998, 2008)
        manufactured = dt.date(year, rnd.randint(1, 12), rnd.randint(1, 28))
        commissioned = manufactured + dt.timedelta(days=rnd.randint(90, 360))
        commissioned = min(commissioned, dt.date(2025, 12, 31))
        authority = site.district if (
            site.district[:5] != '35037' and commissioned.year >= 2017
            and rnd.random() < 0.8) else CITY
        key = (category, authority, commissioned.year)
        sequences[key] = sequences.get(key, 0) + rnd.randint(1, 3)
        registration = (f'{category}{authority}{commissioned.year}'
            f'{sequences[key]:06d}')
        serial_key = (brand_index, year)
        serials[serial_key] = serials.get(serial_key, 0) + 1
        equipment = f'{category}{brand[4]}{year}{serials[serial_key]:05d}'
        orphan = old_site and rnd.random() < ORPHAN_IN_OLD_ESTATE
        # Nobody maintains half of the orphan elevators.
        firm = None if orphan and rnd.random() < 0.5 else (
            site.maintenance_unit)
        # Due dates: about 4 % overdue, 8 % due within 30 days.
        due_in = rnd.choices([rnd.randint(-120, -1), rnd.randint(0, 30),
                rnd.randint(31, 365)], [4, 8, 88])[0]
        if escalator:
            floors, load, speed = 2, None, 0.5
        else:
            floors = {'estate': rnd.randint(7, 33), 'office': rnd.randint(
                    12, 40), 'factory': rnd.randint(2, 6)}.get(
                site.kind, rnd.randint(3, 20))
            load = rnd.choices([630, 800, 1000, 1050, 1350, 1600, 2000],
                [10, 20, 35, 15, 8, 7, 5])[0]
            if category == '3130':
                load = 1600
            elif category == '3120':
                load = rnd.choice([2000, 3000, 5000])
            speed = rnd.choice([1.0, 1.5, 1.75, 2.0, 2.5] if floors > 10
                else [0.5, 1.0, 1.5])
        state = rnd.choices(*zip(*STATE_SHARES))[0]
        return {
            'registration_code': registration,
            'equipment_code': equipment,
            'certificate_number': (f'梯{category[1:3]}闽B'
                f'{rnd.randint(1, 99999):05d}({commissioned.year % 100:02d})'),
            'rescue_code': f'{rescue_code}',
            'category': category,
            'brand': brand[0],
            'model': rnd.choice(brand[6] if escalator else brand[5]),
            'place': site.name,
            'place_category': site.category,
            'region': site.region,
            'address': site.address,
            'building': (f'{k // 2 + 1}号楼{k % 2 + 1}号梯'
                if site.kind == 'estate' else f'{k + 1}号梯'),
            'user_unit': None if orphan else _name(site.user_unit),
            'user_unit_uscc': None if orphan else _uscc(site.user_unit),
            'maintenance_unit': _name(firm),
            'maintenance_unit_uscc': _uscc(firm),
            'manufacturer': brand[1],
            'manufacturer_uscc': self.manufacturers[brand_index].uscc,
            'property_company': None if orphan else _name(
                site.property_company),
            'property_company_uscc': None if orphan else _uscc(
                site.property_company),
            'inspection_agency': self.agency.name,
            'inspection_agency_uscc': self.agency.uscc,
            'latitude': round(site.latitude + rnd.uniform(-0.0005, 0.0005),
                6),
            'longitude': round(site.longitude + rnd.uniform(-0.0005, 0.0005),
                6),
            'floors': floors,
            'rated_load': load,
            'rated_speed': speed,
            'manufacture_date': manufactured,
            'commissioning_date': commissioned,
            'next_inspection_date': self.today + dt.timedelta(days=due_in),
            'orphan': orphan,
            'has_video': rnd.random() < (0.55 if year < 2012 else 0.85),
            'state': state,
            }

    def registry_rows(self):
        """The elevators as registry rows [(row number, {key: value})],
        numbered as in a file with a header row."""
        return [(number, dict(values))
            for number, values in enumerate(self.elevators, 2)]

    def units(self):
        "Every party of the world, maintenance firms first."
        return (self.firms + self.manufacturers + [self.agency]
            + self.property_companies + self.user_units)


_KIND_NAMES = {
    'hospital': '卫生服务中心', 'mall': '商业广场', 'station': '公交枢纽站',
    'school': '学校', 'government': '便民服务中心', 'institution': '文化中心',
    'state_owned': '营业大楼', 'hotel': '大酒店', 'factory': '厂房',
    'office': '大厦', 'estate': '小区'}


def _name(unit):
    return unit.name if unit else None


def _uscc(unit):
    return unit.uscc if unit else None
