"""The documented schema of a county's input layers.

Every layer has canonical English column names (units in the names: ``_m2``,
``_kmh``), a Chinese label, and aliases as they appear in bureau spreadsheets
(学校名称, 学段, 在校生数, 班级数 ...). :func:`schoolplan._validate.validate_layer`
renames aliases to canonical names, coerces types and checks ranges.

Layers (see ``docs/schema.md`` for the generated table):

=============  ==========  ===============================================
layer          geometry    one row per
=============  ==========  ===============================================
schools        Point       school, teaching point or kindergarten (open or closed)
villages       Point       settlement / demand point (行政村, 自然村, 社区)
townships      Polygon     乡镇 (one of them the county seat 县城)
zones          Polygon     urban planning zone in the county seat (控规单元)
sites          Point/Poly  candidate parcel for a new school (预留用地候选)
developments   Point/Poly  planned residential development (新建住宅区)
births         —           (year, township) births
enrolment      —           (year, school, grade) pupils
roads          Line        road segment (when not an OSM file)
=============  ==========  ===============================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "AGE_COLUMNS",
    "BANDS",
    "COMPULSORY_LEVELS",
    "COUNTY_TOML_KEYS",
    "DECISIONS",
    "GRADE_LABELS",
    "LAYERS",
    "LEVELS",
    "LEVEL_AGES",
    "LEVEL_GRADES",
    "LEVEL_LABELS",
    "LEVEL_SPELLINGS",
    "MODES",
    "PHASING_ACTIONS",
    "REUSES",
    "STAGES",
    "STAGE_ENTRY_AGES",
    "STAGE_GRADES",
    "Column",
    "LayerSpec",
    "schema_markdown",
]

Kind = Literal["str", "int", "float", "bool", "category"]

#: School levels (学段) known to schoolplan.
LEVELS: tuple[str, ...] = (
    "kindergarten",
    "teaching_point",
    "primary",
    "nine_year",
    "junior",
    "senior",
)

#: Chinese and English labels of the levels.
LEVEL_LABELS: dict[str, dict[str, str]] = {
    "kindergarten": {"zh": "幼儿园", "en": "Kindergarten"},
    "teaching_point": {"zh": "教学点", "en": "Teaching point"},
    "primary": {"zh": "小学", "en": "Primary school"},
    "nine_year": {"zh": "九年一贯制学校", "en": "Nine-year school"},
    "junior": {"zh": "初中", "en": "Junior middle school"},
    "senior": {"zh": "高中", "en": "Senior high school"},
}

#: Grades each level teaches (kindergarten 1-3 = 小班/中班/大班; 1-6 primary; 7-9 junior).
LEVEL_GRADES: dict[str, tuple[int, ...]] = {
    "kindergarten": (1, 2, 3),
    "teaching_point": (1, 2, 3, 4),
    "primary": (1, 2, 3, 4, 5, 6),
    "nine_year": (1, 2, 3, 4, 5, 6, 7, 8, 9),
    "junior": (7, 8, 9),
    "senior": (10, 11, 12),
}

#: Values accepted for ``level`` besides the canonical ones (case-insensitive).
LEVEL_ALIASES: dict[str, str] = {
    "幼儿园": "kindergarten",
    "幼": "kindergarten",
    "学前": "kindergarten",
    "学前教育": "kindergarten",
    "kg": "kindergarten",
    "preschool": "kindergarten",
    "教学点": "teaching_point",
    "小学教学点": "teaching_point",
    "村小教学点": "teaching_point",
    "tp": "teaching_point",
    "小学": "primary",
    "完全小学": "primary",
    "中心小学": "primary",
    "中心校": "primary",
    "elementary": "primary",
    "九年一贯制": "nine_year",
    "九年一贯制学校": "nine_year",
    "九年制": "nine_year",
    "一贯制": "nine_year",
    "nine-year": "nine_year",
    "初中": "junior",
    "初级中学": "junior",
    "中学": "junior",
    "middle": "junior",
    "junior_middle": "junior",
    "高中": "senior",
    "高级中学": "senior",
    "完全中学": "senior",
    "high": "senior",
}

#: Single-year age columns of the villages layer (children aged 0-17).
AGE_COLUMNS: tuple[str, ...] = tuple(f"age_{a}" for a in range(18))

#: School levels that teach compulsory grades 1–9 (义务教育).
COMPULSORY_LEVELS: tuple[str, ...] = ("teaching_point", "primary", "nine_year", "junior")

#: Stages of seat demand (学段): the levels forecast, reserved and reported on.
STAGES: tuple[str, ...] = ("kindergarten", "primary", "junior")

#: Entry age of each stage in completed years at the start of the school year (幼儿园 小班 at 3).
STAGE_ENTRY_AGES: dict[str, int] = {"kindergarten": 3, "primary": 6, "junior": 12}

#: Grades of each stage: kindergarten 1–3 = 小班/中班/大班, primary 1–6, junior 7–9 ("6+3").
STAGE_GRADES: dict[str, tuple[int, ...]] = {
    "kindergarten": (1, 2, 3),
    "primary": (1, 2, 3, 4, 5, 6),
    "junior": (7, 8, 9),
}

#: Age ranges (inclusive, completed years) of children of each stage's school age (and senior).
LEVEL_AGES: dict[str, tuple[int, int]] = {"kindergarten": (3, 5), "primary": (6, 11), "junior": (12, 14),
                                          "senior": (15, 17)}

#: Grade bands of compulsory pupils: ages at the base year, grades, the levels that teach them,
#: their stage, and labels. Grades 1–3 are day pupils (国办发〔2018〕27号); 4–6 and 7–9 may board.
BANDS: dict[str, dict[str, object]] = {
    "lower": {"ages": (6, 7, 8), "grades": (1, 2, 3), "levels": ("teaching_point", "primary", "nine_year"),
              "stage": "primary", "zh": "小学1–3年级", "en": "grades 1–3"},
    "upper": {"ages": (9, 10, 11), "grades": (4, 5, 6), "levels": ("primary", "nine_year"),
              "stage": "primary", "zh": "小学4–6年级", "en": "grades 4–6"},
    "junior": {"ages": (12, 13, 14), "grades": (7, 8, 9), "levels": ("junior", "nine_year"),
               "stage": "junior", "zh": "初中", "en": "junior grades 7–9"},
}

#: Decisions on schools (留/并/扩/新/改) with their Chinese and English labels.
DECISIONS: dict[str, dict[str, str]] = {
    "keep": {"zh": "保留", "en": "Keep"},
    "merge": {"zh": "撤并", "en": "Merge"},
    "expand": {"zh": "扩建", "en": "Expand"},
    "new": {"zh": "新建", "en": "New"},
    "convert": {"zh": "改建", "en": "Convert"},
    "vacant": {"zh": "闲置", "en": "Vacant"},
}

#: How pupils travel (走读步行 / 校车 / 寄宿), or why they are not placed.
MODES: dict[str, dict[str, str]] = {
    "walk": {"zh": "步行走读", "en": "Walk"},
    "bus": {"zh": "校车走读", "en": "School bus"},
    "boarding": {"zh": "寄宿", "en": "Boarding"},
    "no_route": {"zh": "无道路连通", "en": "No road route"},
    "unserved": {"zh": "无法安置", "en": "Unserved"},
}

# --------------------------------------------------------------------------- phased plans (schoolplan.phasing)
#: Actions of a phased plan (分年度实施) with their Chinese and English labels.
PHASING_ACTIONS: dict[str, dict[str, str]] = {
    "close": {"zh": "撤并", "en": "Close (merge)"},
    "shed": {"zh": "分流超规模学生", "en": "Move pupils above the maximum size"},
    "convert": {"zh": "校舍改作他用", "en": "Convert the building"},
    "classrooms": {"zh": "新增教室", "en": "Add classrooms"},
    "beds": {"zh": "新增寄宿床位", "en": "Add boarding beds"},
    "upgrade": {"zh": "改善办学条件", "en": "Upgrade the school"},
    "new_school": {"zh": "新建学校", "en": "Build a new school"},
    "buses": {"zh": "购置校车", "en": "Buy school buses"},
}


# =========================================================================== input spellings (loading)
# Spellings people use in their files, read by the loaders. Kept apart from the
# level/band/decision block above, which other modules own.

#: Grade labels accepted in ``enrolment.grade`` → (grade, level or None). Arabic and
#: full-width digits are accepted as they are (after NFKC normalisation).
GRADE_LABELS: dict[str, tuple[int, str | None]] = {
    **{f"{zh}年级": (g, None) for g, zh in enumerate("一二三四五六七八九", start=1)},
    **{f"{g}年级": (g, None) for g in range(1, 13)},
    **{f"{zh}年": (g, None) for g, zh in enumerate("一二三四五六", start=1)},
    "初一": (7, "junior"), "初二": (8, "junior"), "初三": (9, "junior"),
    "初一年级": (7, "junior"), "初二年级": (8, "junior"), "初三年级": (9, "junior"),
    "七年级": (7, "junior"), "八年级": (8, "junior"), "九年级": (9, "junior"),
    "高一": (10, "senior"), "高二": (11, "senior"), "高三": (12, "senior"),
    "高一年级": (10, "senior"), "高二年级": (11, "senior"), "高三年级": (12, "senior"),
    "小班": (1, "kindergarten"), "中班": (2, "kindergarten"), "大班": (3, "kindergarten"),
    "幼儿园小班": (1, "kindergarten"), "幼儿园中班": (2, "kindergarten"), "幼儿园大班": (3, "kindergarten"),
    **{f"grade {g}": (g, None) for g in range(1, 13)},
    **{f"grade{g}": (g, None) for g in range(1, 13)},
    **{f"g{g}": (g, None) for g in range(1, 13)},
}

#: Level spellings accepted besides ``LEVEL_ALIASES`` (names as registers write them).
#: A value that is none of these but ends with one (``乡镇中心幼儿园``, ``村完小``) takes
#: the level of the longest such ending; text in brackets is ignored (``小学（含幼儿班）``).
LEVEL_SPELLINGS: dict[str, str] = {
    "完小": "primary", "村完小": "primary", "村小": "primary", "中心完小": "primary", "小学校": "primary",
    "附属幼儿园": "kindergarten", "幼儿班": "kindergarten", "学前班": "kindergarten", "幼教": "kindergarten",
    "独立初中": "junior", "初级中学校": "junior", "乡镇初中": "junior",
    "九年一贯": "nine_year", "九年一贯制学校（小学部）": "nine_year", "中小学": "nine_year",
    "十二年一贯制": "senior", "十二年一贯制学校": "senior", "高级中学校": "senior",
}

#: Keys of ``county.toml`` (the optional description of a county folder): key → (type, meaning).
COUNTY_TOML_KEYS: dict[str, tuple[str, str]] = {
    "name_zh": ("text", "County name in Chinese (also `name`); the folder name when absent."),
    "name": ("text", "Same as `name_zh`."),
    "name_en": ("text", "County name in English."),
    "base_year": ("year", "Year the register describes (e.g. 2024; \"2024年\" and full-width digits are read); "
                  "the latest enrolment year when absent."),
    "coords": ("wgs84 / cgcs2000 / gcj02 / bd09", "Coordinate system of longitude/latitude columns in CSV/XLSX "
               "layers; `--coords` and `load_county(coords=...)` override it."),
    "crs": ("EPSG code", "Working metric CRS (e.g. \"EPSG:4547\"); chosen from the townships when absent."),
    "gpkg": ("file", "GeoPackage holding layers named as below (schools, villages, 学校 ...)."),
    "roads": ("file", "Road source: OSM .osm.pbf/.osm, GraphML, or a road line layer (GPKG/SHP)."),
    **{layer: ("file or table", f"The {layer} layer: a file name, or a table `[{layer}]` with `file`, and "
               "optionally `sheet` (workbook sheet), `layer` (GeoPackage layer) and `coords`.")
       for layer in ("schools", "villages", "townships", "zones", "sites", "developments", "births", "enrolment")},
    "attribution": ("text", "Data sources and licences (shown in reports)."),
    "description": ("text", "Free text."),
    "notes": ("text", "Free text."),
    "source": ("text", "Free text."),
    "license": ("text", "Free text."),
}
# --------------------------------------------------------------------------- reuse of vacated buildings
#: Suggested reuse of a vacated school building (校舍再利用) with labels. A plan's ``reuse``
#: value is one key, or several joined by "/" ("community/kindergarten").
REUSES: dict[str, dict[str, str]] = {
    "kindergarten": {"zh": "改建为幼儿园", "en": "Convert to a kindergarten"},
    "community": {"zh": "社区服务用房", "en": "Community use"},
    "teaching_point": {"zh": "保留为教学点", "en": "Keep as a teaching point"},
    "boarding": {"zh": "寄宿生宿舍", "en": "Boarding house"},
    "other": {"zh": "其他公益用途", "en": "Other public use"},
}
# --------------------------------------------------------------------------- end of reuse block


@dataclass(frozen=True)
class Column:
    """One column of a layer.

    Parameters
    ----------
    name
        Canonical (English) name; units are part of the name.
    kind
        Value type after coercion.
    required
        Whether the column must be present.
    zh
        Chinese label (used in reports and as an alias).
    aliases
        Other accepted spellings (Chinese bureau headers, common English).
    allowed
        Allowed values for categories (after alias mapping).
    minimum, maximum
        Inclusive numeric range: values outside are errors naming the rows. Every
        number must also be finite (``inf``, ``nan`` written as text, ``1e400`` are errors).
    default
        Value filled in when an optional column is absent.
    description
        What it means, with units.
    unit
        Unit of the values (``"pupils"``, ``"m²"``, ``"km/h"`` ...).
    remap
        Values mapped to other allowed values after aliases (enrolment: a teaching
        point's grades are primary grades).
    """

    name: str
    kind: Kind
    required: bool = False
    zh: str = ""
    aliases: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    default: object = None
    description: str = ""
    unit: str = ""
    remap: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class LayerSpec:
    """A layer of the county bundle."""

    name: str
    zh: str
    geometry: Literal["Point", "Polygon", "Line", "Any"] | None
    id_column: str | None
    columns: tuple[Column, ...]
    required: bool = False
    description: str = ""
    extra_columns: tuple[Column, ...] = field(default_factory=tuple)
    file_names: tuple[str, ...] = ()

    def column(self, name: str) -> Column:
        """Return the column spec called ``name``."""
        for col in self.all_columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def all_columns(self) -> tuple[Column, ...]:
        """Declared columns plus generated ones (e.g. ``age_0`` ... ``age_17``)."""
        return self.columns + self.extra_columns


def _c(name: str, kind: Kind, zh: str = "", *aliases: str, **kw: object) -> Column:
    return Column(name=name, kind=kind, zh=zh, aliases=(zh, *aliases) if zh else aliases, **kw)  # type: ignore[arg-type]


_NONNEG = {"minimum": 0}


def _n(maximum: float, unit: str) -> dict[str, object]:
    """Non-negative with a plausible upper bound (so that ``1e20`` or ``inf`` pupils are errors, not wrap-around)."""
    return {"minimum": 0, "maximum": maximum, "unit": unit}


#: Upper bounds of counts: far above any real county's values, far below int64 overflow.
_PUPILS = 30_000      # pupils of one school (the largest Chinese schools have about 15,000)
_PEOPLE = 5_000_000   # residents of a township, zone or development

SCHOOLS = LayerSpec(
    name="schools",
    zh="学校",
    geometry="Point",
    id_column="school_id",
    required=True,
    file_names=("schools", "school", "学校", "学校名录", "学校信息", "学校基本情况", "学校点", "中小学", "学校分布"),
    description="Schools, teaching points and kindergartens, open and closed (closed ones are vacated buildings).",
    columns=(
        _c("school_id", "str", "学校代码", "学校标识码", "学校编号", "编号", "id", "code", required=True,
           description="Unique id (e.g. the 12-digit 学校标识码)."),
        _c("name", "str", "学校名称", "名称", "校名", "school_name", "school", required=True,
           description="School name."),
        _c("level", "category", "学段", "办学类型", "学校类型", "类型", "type", required=True,
           allowed=LEVELS, description="kindergarten / teaching_point / primary / nine_year / junior / senior."),
        _c("status", "category", "状态", "办学状态", allowed=("open", "closed"), default="open",
           description="open, or closed (a vacated building that may be reused)."),
        _c("township_id", "str", "乡镇代码", "所属乡镇", "乡镇", "township",
           description="Township (乡镇) the school lies in."),
        _c("is_central", "bool", "是否中心校", "中心校", "乡镇中心校", default=False,
           description="True for the township-seat central school (乡镇中心校)."),
        _c("ownership", "category", "办学性质", "举办者", allowed=("public", "inclusive_private", "private"),
           default="public", description="public 公办 / inclusive_private 普惠性民办 / private 民办."),
        _c("classes", "int", "班级数", "班数", "教学班数", **_n(500, "classes"),
           description="Number of classes (教学班) this year."),
        _c("students", "int", "在校生数", "学生数", "在校生", "在园幼儿数", "在校学生数", "enrolment",
           **_n(_PUPILS, "pupils"),
           description="Pupils enrolled this year."),
        _c("capacity_seats", "int", "学位数", "核定学位", "设计学位", "capacity", **_n(_PUPILS, "seats"),
           description="Classroom seats (classes × standard class size unless given)."),
        _c("boarding_beds", "int", "寄宿床位", "床位数", "beds", **_n(_PUPILS, "beds"), default=0,
           description="Boarding beds."),
        _c("boarders", "int", "寄宿生数", "住校生数", **_n(_PUPILS, "pupils"), default=0,
           description="Pupils boarding this year."),
        _c("teachers", "int", "专任教师数", "教师数", "教职工数", **_n(3000, "teachers"),
           description="Full-time teachers on staff."),
        _c("land_area_m2", "float", "占地面积", "用地面积", "land_area", **_n(5e6, "m²"),
           description="Site area, m²."),
        _c("building_area_m2", "float", "建筑面积", "校舍建筑面积", "building_area", **_n(2e6, "m²"),
           description="Building floor area, m²."),
        _c("quality_score", "float", "办学质量", "质量评分", minimum=0, maximum=100, unit="points",
           description="Teaching quality score 0-100 (optional; used by the keep rule)."),
        _c("condition_score", "float", "办学条件", "条件评分", minimum=0, maximum=100, unit="points",
           description="Facility condition score 0-100 (optional; used by the keep rule)."),
        _c("opened_year", "int", "建校年份", "opened", minimum=1800, maximum=2100, unit="year",
           description="Year opened."),
        _c("closed_year", "int", "撤并年份", "停办年份", "closed", minimum=1800, maximum=2100, unit="year",
           description="Year closed (closed schools)."),
        # 优质均衡 resource inputs (optional)
        _c("teachers_qualified", "int", "高于规定学历教师数", **_n(3000, "teachers"),
           description="Teachers above the required qualification (优质均衡 indicator 1)."),
        _c("teachers_key", "int", "县级以上骨干教师数", **_n(3000, "teachers"),
           description="County-level or higher key teachers (indicator 2)."),
        _c("teachers_pe_art", "int", "体育艺术专任教师数", **_n(3000, "teachers"),
           description="PE, music and art teachers (indicator 3)."),
        _c("teaching_rooms_m2", "float", "教学及辅助用房面积", **_n(2e6, "m²"),
           description="Teaching and auxiliary rooms, m² (indicator 4)."),
        _c("sports_area_m2", "float", "体育运动场馆面积", **_n(5e6, "m²"),
           description="Sports grounds and halls, m² (indicator 5)."),
        _c("equipment_yuan", "float", "教学仪器设备值", **_n(1e10, "yuan"),
           description="Teaching equipment value, yuan (indicator 6)."),
        _c("multimedia_rooms", "int", "网络多媒体教室数", **_n(2000, "rooms"),
           description="Networked multimedia classrooms (indicator 7)."),
    ),
)

VILLAGES = LayerSpec(
    name="villages",
    zh="村庄",
    geometry="Point",
    id_column="village_id",
    required=True,
    file_names=("villages", "village", "村庄", "行政村", "居民点", "村庄人口", "自然村", "村居", "村庄分布"),
    description="Demand points: villages, hamlets and urban communities, with children by single year of age.",
    columns=(
        _c("village_id", "str", "村代码", "行政村代码", "编号", "id", required=True,
           description="Unique id."),
        _c("name", "str", "村名", "村庄名称", "名称", "village", required=True, description="Name."),
        _c("township_id", "str", "乡镇代码", "所属乡镇", "乡镇", "township",
           description="Township the village belongs to."),
        _c("zone_id", "str", "控规单元", "单元编号", "zone",
           description="Urban planning zone (county seat only)."),
        _c("population", "int", "人口", "户籍人口", "常住人口", "总人口", **_n(_PEOPLE, "persons"),
           description="Residents."),
    ),
    extra_columns=tuple(
        Column(name=a, kind="int", zh=f"{i}岁", aliases=(f"{i}岁", f"age{i}"), minimum=0, maximum=200_000,
               unit="children", default=0,
               description=f"Children aged {i}.")
        for i, a in enumerate(AGE_COLUMNS)
    ),
)

TOWNSHIPS = LayerSpec(
    name="townships",
    zh="乡镇",
    geometry="Polygon",
    id_column="township_id",
    required=True,
    file_names=("townships", "township", "乡镇", "乡镇边界", "乡镇界", "乡镇行政区划", "行政区划", "镇界", "乡镇范围"),
    description="Townships (乡镇); the one flagged is_county_seat is the county seat (县城).",
    columns=(
        _c("township_id", "str", "乡镇代码", "编号", "id", required=True, description="Unique id."),
        _c("name", "str", "乡镇名称", "名称", required=True, description="Chinese name."),
        _c("name_en", "str", "英文名", description="English name."),
        _c("is_county_seat", "bool", "是否县城", "县城", default=False,
           description="True for the county seat."),
        _c("population", "int", "人口", "常住人口", **_n(_PEOPLE, "persons"), description="Residents."),
    ),
)

ZONES = LayerSpec(
    name="zones",
    zh="控规单元",
    geometry="Polygon",
    id_column="zone_id",
    file_names=("zones", "zone", "控规单元", "规划单元", "控规"),
    description="Urban planning zones (控规单元) of the county seat with current and planned population.",
    columns=(
        _c("zone_id", "str", "单元编号", "控规单元编号", "编号", "id", required=True, description="Unique id."),
        _c("name", "str", "单元名称", "名称", required=True, description="Name."),
        _c("township_id", "str", "乡镇代码", "所属乡镇", description="Township (the county seat)."),
        _c("population", "int", "现状人口", "人口", **_n(_PEOPLE, "persons"), description="Residents now."),
        _c("dwellings", "int", "现状住宅套数", "住宅套数", **_n(_PEOPLE, "dwellings"), description="Dwellings now."),
        _c("population_planned", "int", "规划人口", **_n(_PEOPLE, "persons"),
           description="Residents at the end of the plan period."),
        _c("dwellings_planned", "int", "规划住宅套数", **_n(_PEOPLE, "dwellings"),
           description="Dwellings at the end of the plan period."),
    ),
)

SITES = LayerSpec(
    name="sites",
    zh="候选用地",
    geometry="Any",
    id_column="site_id",
    file_names=("sites", "site", "候选用地", "候选地块", "预留用地"),
    description="Candidate parcels for new schools and kindergartens.",
    columns=(
        _c("site_id", "str", "地块编号", "编号", "id", required=True, description="Unique id."),
        _c("name", "str", "地块名称", "名称", description="Name."),
        _c("site_type", "category", "用地类型", "类型",
           allowed=("vacant", "planned_education", "closed_school", "government_building", "other"),
           default="vacant",
           description="vacant 空地 / planned_education 规划教育用地 / closed_school 撤并校舍 / "
           "government_building 闲置办公楼 / other."),
        _c("area_m2", "float", "用地面积", "面积", "area", **_n(1e7, "m²"),
           description="Parcel area, m² (computed from polygons when absent)."),
        _c("building_area_m2", "float", "建筑面积", **_n(2e6, "m²"), description="Existing floor area, m²."),
        _c("school_id", "str", "原学校代码", description="The closed school this building belonged to."),
        _c("township_id", "str", "乡镇代码", "所属乡镇", description="Township."),
    ),
)

DEVELOPMENTS = LayerSpec(
    name="developments",
    zh="新建住宅区",
    geometry="Any",
    id_column="development_id",
    file_names=("developments", "development", "住宅项目", "新建住宅区", "新建小区", "住宅开发"),
    description="Planned residential developments (housing yield and school-land checks).",
    columns=(
        _c("development_id", "str", "项目编号", "编号", "id", required=True, description="Unique id."),
        _c("name", "str", "项目名称", "名称", description="Name."),
        _c("zone_id", "str", "控规单元", "单元编号", description="Zone it lies in."),
        _c("year", "int", "交付年份", "建成年份", required=True, minimum=1990, maximum=2100, unit="year",
           description="Year the dwellings are occupied."),
        _c("dwellings", "int", "住宅套数", "套数", required=True, **_n(_PEOPLE, "dwellings"),
           description="New dwellings."),
        _c("residents", "int", "规划人口", "居住人口", **_n(_PEOPLE, "persons"),
           description="Planned residents (dwellings × persons per household when absent)."),
        _c("school_land", "bool", "配建学校用地", default=False,
           description="Comes with primary/junior school land."),
        _c("kindergarten_land", "bool", "配建幼儿园用地", default=False,
           description="Comes with kindergarten land."),
    ),
)

BIRTHS = LayerSpec(
    name="births",
    zh="出生人口",
    geometry=None,
    id_column=None,
    required=True,
    file_names=("births", "birth", "出生人口", "出生", "出生登记"),
    description="Births by year and township (出生登记 / 户籍).",
    columns=(
        _c("year", "int", "年份", "年度", required=True, minimum=1950, maximum=2100, unit="year",
           description="Year."),
        _c("township_id", "str", "乡镇代码", "乡镇", "township", description="Township (omit for county totals)."),
        _c("births", "int", "出生人口", "出生数", "出生人数", required=True, **_n(1_000_000, "births"),
           description="Live births."),
    ),
)

ENROLMENT = LayerSpec(
    name="enrolment",
    zh="分年级在校生",
    geometry=None,
    id_column=None,
    required=True,
    file_names=("enrolment", "enrollment", "在校生", "分年级在校生", "分年级", "在校生分年级"),
    description="Pupils by year, school and grade (kindergarten grades 1-3 = 小班/中班/大班).",
    columns=(
        _c("year", "int", "年份", "学年", required=True, minimum=1950, maximum=2100, unit="year",
           description="School year (autumn)."),
        _c("school_id", "str", "学校代码", "学校标识码", required=True, description="School."),
        _c("level", "category", "学段", allowed=("kindergarten", "primary", "junior", "senior"),
           remap=(("teaching_point", "primary"), ("nine_year", "")),
           description="Level of the grade (derived from the grade when absent; 教学点 → primary, 九年一贯制 → "
           "primary or junior by grade)."),
        _c("grade", "int", "年级", required=True, minimum=1, maximum=12, unit="grade",
           description="Grade: 1-3 kindergarten, 1-6 primary, 7-9 junior, 10-12 senior; Chinese labels such as "
           "一年级, 初一, 高一, 小班/中班/大班 are accepted."),
        _c("students", "int", "在校生数", "学生数", "人数", required=True, **_n(_PUPILS, "pupils"),
           description="Pupils."),
        _c("classes", "int", "班级数", "班数", **_n(200, "classes"), description="Classes of that grade."),
    ),
)

ROADS = LayerSpec(
    name="roads",
    zh="道路",
    geometry="Line",
    id_column=None,
    file_names=("roads", "road", "道路", "路网", "道路网"),
    description="Road centre lines when no OSM file is given (government data: 国道/省道/县道/乡道/村道).",
    columns=(
        _c("road_class", "str", "道路等级", "等级", "highway", "class", "fclass",
           description="国道/省道/县道/乡道/村道, or an OSM highway value."),
        _c("speed_kmh", "float", "设计速度", "限速", "maxspeed", minimum=0, maximum=150, unit="km/h",
           description="Speed, km/h (overrides the class speed)."),
        _c("oneway", "bool", "单行", default=False, description="One-way in digitised direction."),
        _c("name", "str", "道路名称", "名称", description="Name."),
        _c("bad_road", "bool", "急弯陡坡", default=False,
           description="Sharp bends/steep/narrow: school bus ≤ 20 km/h (校车条例 §36)."),
    ),
)

#: All layers by name.
LAYERS: dict[str, LayerSpec] = {
    s.name: s
    for s in (SCHOOLS, VILLAGES, TOWNSHIPS, ZONES, SITES, DEVELOPMENTS, BIRTHS, ENROLMENT, ROADS)
}


def schema_markdown() -> str:
    """Render the schema as a Markdown document (``docs/schema.md``)."""
    out = ["# Input schema / 输入数据格式", "",
           "Generated from `schoolplan.schema` (`python -m schoolplan.schema > docs/schema.md`).", "",
           "Every number must be finite and lie in the range shown (values outside are errors naming the rows); "
           "counts are whole numbers. Full-width digits (１２３), thousands separators and blank trailing rows are "
           "accepted. Columns not marked required may be absent: `township_id` of schools and villages is then "
           "derived from the township polygons and `capacity_seats` from classes × the standard class size, and "
           "the county's data-quality table (`County.data_quality`) says so. References between layers "
           "(township, zone and school) may be ids or names (麦田镇 → its id).", ""]
    for spec in LAYERS.values():
        geom = spec.geometry or "table (no geometry)"
        req = "required" if spec.required else "optional"
        out += [f"## `{spec.name}` — {spec.zh} ({req}; {geom})", "", spec.description, ""]
        if spec.file_names:
            out += ["File or layer names recognised in a county folder: "
                    + ", ".join(f"`{n}`" for n in spec.file_names)
                    + " (exactly, or as part of a longer name such as `XX县学校名录2024.xlsx`).", ""]
        out += ["| column | 中文 | type | unit | required | allowed / range | aliases | meaning |",
                "|---|---|---|---|---|---|---|---|"]
        for c in spec.columns:
            rng = ", ".join(c.allowed)
            if c.minimum is not None or c.maximum is not None:
                lo = "" if c.minimum is None else f"{c.minimum:,g}"
                hi = "" if c.maximum is None else f"{c.maximum:,g}"
                rng = f"{lo} … {hi}"
            aliases = ", ".join(a for a in c.aliases if a != c.zh)
            out.append(f"| `{c.name}` | {c.zh} | {c.kind} | {c.unit} | {'yes' if c.required else ''} | {rng} | "
                       f"{aliases} | {c.description} |")
        if spec.extra_columns:
            out.append("| `age_0` … `age_17` | 0岁 … 17岁 | int | children | | 0 … 200,000 | `0岁`, `age0` | "
                       "Children by single year of age. |")
        out.append("")
    out += ["## Levels / 学段", "", "| level | 中文 | grades | accepted spellings |", "|---|---|---|---|"]
    for lv in LEVELS:
        spell = ", ".join([k for k, v in LEVEL_ALIASES.items() if v == lv]
                          + [k for k, v in LEVEL_SPELLINGS.items() if v == lv])
        grades = LEVEL_GRADES[lv]
        out.append(f"| `{lv}` | {LEVEL_LABELS[lv]['zh']} | {grades[0]}–{grades[-1]} | {spell} |")
    labels = [k for k in GRADE_LABELS if not k.isascii()]
    out += ["", "## Grade labels / 年级", "",
            "Besides numbers, `enrolment.grade` accepts " + ", ".join(labels)
            + ", and `Grade 1`/`G1` … (小班/中班/大班 are kindergarten grades 1–3; 初一–初三 are grades 7–9; "
            "高一–高三 10–12).", ""]
    out += ["## `county.toml`", "",
            "An optional file in the county folder. Unknown keys are errors (a typo would otherwise be ignored); "
            "files it names must exist. Saved as UTF-8 (a byte-order mark is fine).", "",
            "| key | value | meaning |", "|---|---|---|"]
    for key, (kind, meaning) in COUNTY_TOML_KEYS.items():
        out.append(f"| `{key}` | {kind} | {meaning} |")
    out += ["", "Example:", "", "```toml", 'name_zh = "麦田县"', "base_year = 2024", 'coords = "gcj02"',
            'roads = "道路.shp"', 'births = "出生人口.csv"', "", "[schools]", 'file = "学校名录.xlsx"',
            'sheet = "2024年"', "```"]
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(schema_markdown(), end="")
