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
    "DECISIONS",
    "LAYERS",
    "LEVELS",
    "LEVEL_AGES",
    "LEVEL_GRADES",
    "LEVEL_LABELS",
    "MODES",
    "PHASING_ACTIONS",
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
        Inclusive numeric range.
    default
        Value filled in when an optional column is absent.
    description
        What it means, with units.
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

SCHOOLS = LayerSpec(
    name="schools",
    zh="学校",
    geometry="Point",
    id_column="school_id",
    required=True,
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
        _c("classes", "int", "班级数", "班数", "教学班数", **_NONNEG,
           description="Number of classes (教学班) this year."),
        _c("students", "int", "在校生数", "学生数", "在校生", "在园幼儿数", "enrolment", **_NONNEG,
           description="Pupils enrolled this year."),
        _c("capacity_seats", "int", "学位数", "核定学位", "设计学位", "capacity", **_NONNEG,
           description="Classroom seats (classes × standard class size unless given)."),
        _c("boarding_beds", "int", "寄宿床位", "床位数", "beds", **_NONNEG, default=0,
           description="Boarding beds."),
        _c("boarders", "int", "寄宿生数", "住校生数", **_NONNEG, default=0,
           description="Pupils boarding this year."),
        _c("teachers", "int", "专任教师数", "教师数", "教职工数", **_NONNEG,
           description="Full-time teachers on staff."),
        _c("land_area_m2", "float", "占地面积", "用地面积", "land_area", **_NONNEG,
           description="Site area, m²."),
        _c("building_area_m2", "float", "建筑面积", "校舍建筑面积", "building_area", **_NONNEG,
           description="Building floor area, m²."),
        _c("quality_score", "float", "办学质量", "质量评分", minimum=0, maximum=100,
           description="Teaching quality score 0-100 (optional; used by the keep rule)."),
        _c("condition_score", "float", "办学条件", "条件评分", minimum=0, maximum=100,
           description="Facility condition score 0-100 (optional; used by the keep rule)."),
        _c("opened_year", "int", "建校年份", "opened", minimum=1800, maximum=2100,
           description="Year opened."),
        _c("closed_year", "int", "撤并年份", "停办年份", "closed", minimum=1800, maximum=2100,
           description="Year closed (closed schools)."),
        # 优质均衡 resource inputs (optional)
        _c("teachers_qualified", "int", "高于规定学历教师数", **_NONNEG,
           description="Teachers above the required qualification (优质均衡 indicator 1)."),
        _c("teachers_key", "int", "县级以上骨干教师数", **_NONNEG,
           description="County-level or higher key teachers (indicator 2)."),
        _c("teachers_pe_art", "int", "体育艺术专任教师数", **_NONNEG,
           description="PE, music and art teachers (indicator 3)."),
        _c("teaching_rooms_m2", "float", "教学及辅助用房面积", **_NONNEG,
           description="Teaching and auxiliary rooms, m² (indicator 4)."),
        _c("sports_area_m2", "float", "体育运动场馆面积", **_NONNEG,
           description="Sports grounds and halls, m² (indicator 5)."),
        _c("equipment_yuan", "float", "教学仪器设备值", **_NONNEG,
           description="Teaching equipment value, yuan (indicator 6)."),
        _c("multimedia_rooms", "int", "网络多媒体教室数", **_NONNEG,
           description="Networked multimedia classrooms (indicator 7)."),
    ),
)

VILLAGES = LayerSpec(
    name="villages",
    zh="村庄",
    geometry="Point",
    id_column="village_id",
    required=True,
    description="Demand points: villages, hamlets and urban communities, with children by single year of age.",
    columns=(
        _c("village_id", "str", "村代码", "行政村代码", "编号", "id", required=True,
           description="Unique id."),
        _c("name", "str", "村名", "村庄名称", "名称", "village", required=True, description="Name."),
        _c("township_id", "str", "乡镇代码", "所属乡镇", "乡镇", "township",
           description="Township the village belongs to."),
        _c("zone_id", "str", "控规单元", "单元编号", "zone",
           description="Urban planning zone (county seat only)."),
        _c("population", "int", "人口", "户籍人口", "常住人口", "总人口", **_NONNEG,
           description="Residents."),
    ),
    extra_columns=tuple(
        Column(name=a, kind="int", zh=f"{i}岁", aliases=(f"{i}岁", f"age{i}"), minimum=0, default=0,
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
    description="Townships (乡镇); the one flagged is_county_seat is the county seat (县城).",
    columns=(
        _c("township_id", "str", "乡镇代码", "编号", "id", required=True, description="Unique id."),
        _c("name", "str", "乡镇名称", "名称", required=True, description="Chinese name."),
        _c("name_en", "str", "英文名", description="English name."),
        _c("is_county_seat", "bool", "是否县城", "县城", default=False,
           description="True for the county seat."),
        _c("population", "int", "人口", "常住人口", **_NONNEG, description="Residents."),
    ),
)

ZONES = LayerSpec(
    name="zones",
    zh="控规单元",
    geometry="Polygon",
    id_column="zone_id",
    description="Urban planning zones (控规单元) of the county seat with current and planned population.",
    columns=(
        _c("zone_id", "str", "单元编号", "控规单元编号", "编号", "id", required=True, description="Unique id."),
        _c("name", "str", "单元名称", "名称", required=True, description="Name."),
        _c("township_id", "str", "乡镇代码", "所属乡镇", description="Township (the county seat)."),
        _c("population", "int", "现状人口", "人口", **_NONNEG, description="Residents now."),
        _c("dwellings", "int", "现状住宅套数", "住宅套数", **_NONNEG, description="Dwellings now."),
        _c("population_planned", "int", "规划人口", **_NONNEG,
           description="Residents at the end of the plan period."),
        _c("dwellings_planned", "int", "规划住宅套数", **_NONNEG,
           description="Dwellings at the end of the plan period."),
    ),
)

SITES = LayerSpec(
    name="sites",
    zh="候选用地",
    geometry="Any",
    id_column="site_id",
    description="Candidate parcels for new schools and kindergartens.",
    columns=(
        _c("site_id", "str", "地块编号", "编号", "id", required=True, description="Unique id."),
        _c("name", "str", "地块名称", "名称", description="Name."),
        _c("site_type", "category", "用地类型", "类型",
           allowed=("vacant", "planned_education", "closed_school", "government_building", "other"),
           default="vacant",
           description="vacant 空地 / planned_education 规划教育用地 / closed_school 撤并校舍 / "
           "government_building 闲置办公楼 / other."),
        _c("area_m2", "float", "用地面积", "面积", "area", **_NONNEG,
           description="Parcel area, m² (computed from polygons when absent)."),
        _c("building_area_m2", "float", "建筑面积", **_NONNEG, description="Existing floor area, m²."),
        _c("school_id", "str", "原学校代码", description="The closed school this building belonged to."),
        _c("township_id", "str", "乡镇代码", "所属乡镇", description="Township."),
    ),
)

DEVELOPMENTS = LayerSpec(
    name="developments",
    zh="新建住宅区",
    geometry="Any",
    id_column="development_id",
    description="Planned residential developments (housing yield and school-land checks).",
    columns=(
        _c("development_id", "str", "项目编号", "编号", "id", required=True, description="Unique id."),
        _c("name", "str", "项目名称", "名称", description="Name."),
        _c("zone_id", "str", "控规单元", "单元编号", description="Zone it lies in."),
        _c("year", "int", "交付年份", "建成年份", required=True, minimum=1990, maximum=2100,
           description="Year the dwellings are occupied."),
        _c("dwellings", "int", "住宅套数", "套数", required=True, **_NONNEG, description="New dwellings."),
        _c("residents", "int", "规划人口", "居住人口", **_NONNEG,
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
    description="Births by year and township (出生登记 / 户籍).",
    columns=(
        _c("year", "int", "年份", "年度", required=True, minimum=1950, maximum=2100, description="Year."),
        _c("township_id", "str", "乡镇代码", "乡镇", "township", description="Township (omit for county totals)."),
        _c("births", "int", "出生人口", "出生数", "出生人数", required=True, **_NONNEG,
           description="Live births."),
    ),
)

ENROLMENT = LayerSpec(
    name="enrolment",
    zh="分年级在校生",
    geometry=None,
    id_column=None,
    required=True,
    description="Pupils by year, school and grade (kindergarten grades 1-3 = 小班/中班/大班).",
    columns=(
        _c("year", "int", "年份", "学年", required=True, minimum=1950, maximum=2100, description="School year (autumn)."),
        _c("school_id", "str", "学校代码", "学校标识码", required=True, description="School."),
        _c("level", "category", "学段", allowed=("kindergarten", "primary", "junior", "senior"),
           description="Level of the grade (derived from the grade when absent)."),
        _c("grade", "int", "年级", required=True, minimum=1, maximum=12,
           description="Grade: 1-3 kindergarten, 1-6 primary, 7-9 junior, 10-12 senior."),
        _c("students", "int", "在校生数", "学生数", "人数", required=True, **_NONNEG, description="Pupils."),
        _c("classes", "int", "班级数", "班数", **_NONNEG, description="Classes of that grade."),
    ),
)

ROADS = LayerSpec(
    name="roads",
    zh="道路",
    geometry="Line",
    id_column=None,
    description="Road centre lines when no OSM file is given (government data: 国道/省道/县道/乡道/村道).",
    columns=(
        _c("road_class", "str", "道路等级", "等级", "highway", "class", "fclass",
           description="国道/省道/县道/乡道/村道, or an OSM highway value."),
        _c("speed_kmh", "float", "设计速度", "限速", "maxspeed", minimum=0, maximum=150,
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
           "Generated from `schoolplan.schema` (`python -m schoolplan.schema > docs/schema.md`).", ""]
    for spec in LAYERS.values():
        geom = spec.geometry or "table (no geometry)"
        req = "required" if spec.required else "optional"
        out += [f"## `{spec.name}` — {spec.zh} ({req}; {geom})", "", spec.description, "",
                "| column | 中文 | type | required | allowed / range | aliases | meaning |",
                "|---|---|---|---|---|---|---|"]
        for c in spec.columns:
            rng = ", ".join(c.allowed)
            if c.minimum is not None or c.maximum is not None:
                rng = f"{'' if c.minimum is None else c.minimum} … {'' if c.maximum is None else c.maximum}"
            aliases = ", ".join(a for a in c.aliases if a != c.zh)
            out.append(f"| `{c.name}` | {c.zh} | {c.kind} | {'yes' if c.required else ''} | {rng} | "
                       f"{aliases} | {c.description} |")
        if spec.extra_columns:
            out.append("| `age_0` … `age_17` | 0岁 … 17岁 | int | | ≥ 0 | `0岁`, `age0` | "
                       "Children by single year of age. |")
        out.append("")
    out += ["## Levels / 学段", "", "| level | 中文 | grades | accepted spellings |", "|---|---|---|---|"]
    for lv in LEVELS:
        spell = ", ".join(k for k, v in LEVEL_ALIASES.items() if v == lv)
        grades = LEVEL_GRADES[lv]
        out.append(f"| `{lv}` | {LEVEL_LABELS[lv]['zh']} | {grades[0]}–{grades[-1]} | {spell} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(schema_markdown(), end="")
