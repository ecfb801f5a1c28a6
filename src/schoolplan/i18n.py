"""User-facing labels in Chinese and English (``--lang zh|en``).

:func:`t` gives a label by key; :func:`code_label` turns a code of the data model
(level, decision, mode, grade band, reuse, run stage, cause, site type) into words,
so that no report, dossier, workbook or map shows an English code; :func:`local_names`
gives feature names in the report language (``name_en`` in English where a layer
has it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LABELS", "Lang", "check_lang", "code_label", "local_names", "t"]

Lang = Literal["zh", "en"]

#: key → (Chinese, English)
LABELS: dict[str, tuple[str, str]] = {
    "county": ("县", "County"),
    "crs": ("坐标系", "CRS"),
    "extent": ("范围 (经纬度)", "Extent (lon/lat)"),
    "schools": ("学校", "Schools"),
    "open": ("在办", "Open"),
    "closed": ("已撤并/闲置", "Closed / vacated"),
    "villages": ("村庄（需求点）", "Villages (demand points)"),
    "townships": ("乡镇", "Townships"),
    "county_seat": ("县城", "County seat"),
    "zones": ("控规单元", "Planning zones"),
    "sites": ("候选用地", "Candidate sites"),
    "population": ("人口", "Residents"),
    "children": ("适龄儿童", "Children of school age"),
    "pupils": ("在校生", "Pupils enrolled"),
    "births": ("出生人口", "Births"),
    "road_km": ("可通行道路 (公里)", "Routable roads (km)"),
    "level": ("学段", "Level"),
    "kindergarten": ("幼儿园", "Kindergarten"),
    "teaching_point": ("教学点", "Teaching point"),
    "primary": ("小学", "Primary"),
    "nine_year": ("九年一贯制", "Nine-year"),
    "junior": ("初中", "Junior middle"),
    "senior": ("高中", "Senior high"),
    "summary_title": ("县域概况", "County summary"),
    "wrote": ("已写入", "Wrote"),
    "error": ("错误", "Error"),
    "internal_error": ("内部错误，请报告", "Internal error, please report it"),
    "base_year": ("基准年", "Base year"),
    "peak": ("峰值", "peak"),
    # maps (schoolplan.maps)
    "map_legend": ("图例", "Legend"),
    "map_schools": ("学校", "Schools"),
    "map_decision": ("布局调整", "Decision"),
    "map_size_note": ("符号大小按在校生数", "Symbol size by enrolment"),
    "map_villages": ("村庄（校车单程时间）", "Villages (one-way bus minutes)"),
    "map_minutes": ("分钟", "min"),
    "map_unserved": ("无法安置", "Unserved"),
    "map_not_assigned": ("未分配", "Not assigned"),
    "map_assignment": ("就学路线", "Assignment lines"),
    "map_isochrones": ("校车等时圈", "Bus isochrones"),
    "map_isochrone_n": ("{n} 分钟校车等时圈", "{n}-minute bus isochrones"),
    "map_boarders": ("寄宿生来源村", "Villages with boarders"),
    "map_deficit": ("学位缺口（预留用地）", "Seat deficit (land to reserve)"),
    "map_seats_short": ("缺口学位", "Seats short"),
    "map_sites": ("推荐预留用地", "Recommended sites"),
    "map_townships": ("乡镇边界", "Townships"),
    "map_county_seat": ("县城", "County seat"),
    "map_students": ("在校生", "Pupils"),
    "map_students_before": ("现状在校生", "Pupils now"),
    "map_students_after": ("规划在校生", "Pupils after"),
    "map_classes": ("班级数（现状→规划）", "Classes (now → after)"),
    "map_classes_added": ("新增班级", "Classes added"),
    "map_capacity": ("规划学位", "Seats after"),
    "map_class_size": ("平均班额", "Mean class size"),
    "map_beds": ("床位（需要/现有）", "Beds (needed / available)"),
    "map_buses": ("校车", "Buses"),
    "map_teachers": ("教师（需要/在编）", "Teachers (needed / on staff)"),
    "map_teacher_surplus": ("富余教师", "Teacher surplus"),
    "map_receiving": ("并入学校", "Pupils go to"),
    "map_reuse": ("校舍再利用", "Building reuse"),
    "map_reason": ("理由", "Reason"),
    "map_band": ("学段", "Grades"),
    "map_band_kg": ("幼儿园", "Kindergarten"),
    "map_band_lower": ("小学1–3年级", "Grades 1–3"),
    "map_band_upper": ("小学4–6年级", "Grades 4–6"),
    "map_band_junior": ("初中7–9年级", "Grades 7–9"),
    "map_school": ("学校", "School"),
    "map_mode": ("方式", "Mode"),
    "map_minutes_before": ("现状时间", "Minutes before"),
    "map_pupils": ("学生", "Pupils"),
    "map_demand": ("需求", "Demand"),
    "map_supply": ("可用学位", "Seats reachable"),
    "map_land_m2": ("用地 (m²)", "Land (m²)"),
    "map_site_type": ("用地类型", "Site type"),
    "map_area_m2": ("面积 (m²)", "Area (m²)"),
    "map_land_needed_m2": ("所需用地 (m²)", "Land needed (m²)"),
    "map_seats": ("学位", "Seats"),
    "map_covered": ("覆盖需求", "Demand covered"),
    "map_fits": ("面积满足", "Large enough"),
    "map_yes": ("是", "yes"),
    "map_no": ("否", "no"),
    "map_site_vacant": ("空地", "Vacant land"),
    "map_site_planned_education": ("规划教育用地", "Planned education land"),
    "map_site_closed_school": ("撤并校舍", "Closed school"),
    "map_site_government_building": ("闲置办公楼", "Vacant office building"),
    "map_site_other": ("其他", "Other"),
    "map_year": ("年份", "Year"),
    "map_year_hint": ("在图层控制中选择年份", "choose the year in the layer control"),
    "map_forecast_short": ("学位缺口", "Seats short"),
    "map_forecast_demand": ("学位需求", "Seat demand"),
    "map_no_shortage": ("无缺口", "No shortage"),
    # run stages (progress bars, log, data-quality section)
    "stage_load": ("读取数据", "loading data"),
    "stage_network": ("构建道路网", "building road graphs"),
    "stage_travel_times": ("计算出行时间", "travel times"),
    "stage_forecast": ("学位需求预测", "seat-demand forecast"),
    "stage_attendance": ("现状就读模型", "today's attendance"),
    "stage_consolidate": ("布局调整", "consolidation"),
    "stage_phasing": ("分年度实施安排", "phasing by year"),
    "stage_isochrones": ("校车等时圈", "bus isochrones"),
    "stage_reserve": ("预留用地", "reserved land"),
    "stage_indicators": ("指标与自检", "indicators and audit"),
    "stage_done": ("完成", "done"),
    "stage_writing": ("写出报告、表格和图层", "writing report, workbook and layers"),
    "stage_report": ("写出报告 report.html（含地图）", "writing report.html (with maps)"),
    "stage_workbook": ("写出表格 comparison.xlsx", "writing comparison.xlsx"),
    "stage_layers": ("写出图层 results.gpkg", "writing results.gpkg"),
    "stage_summary": ("县域概况", "county summary"),
    # why pupils are not placed or routed
    "cause_capacity": ("接收学校已满", "receiving schools full"),
    "cause_no_receiver": ("无可达接收学校", "no receiving school"),
    "cause_no_route": ("无道路连通", "no road route"),
    "cause_no_school": ("本乡镇无该学段学校", "no school of the band"),
    # candidate sites
    "site_vacant": ("空地", "Vacant land"),
    "site_planned_education": ("规划教育用地", "Planned education land"),
    "site_closed_school": ("撤并校舍", "Closed school"),
    "site_government_building": ("闲置办公楼", "Vacant office building"),
    "site_other": ("其他", "Other"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
}


def check_lang(lang: str) -> Lang:
    """Validate a language code."""
    from schoolplan.errors import ConfigError

    if lang not in ("zh", "en"):
        raise ConfigError(f"unknown language '{lang}'", fix="use --lang zh or --lang en")
    return lang  # type: ignore[return-value]


def t(key: str, lang: str = "zh") -> str:
    """Label ``key`` in ``lang`` (falls back to the key itself)."""
    pair = LABELS.get(key)
    if pair is None:
        return key
    return pair[0] if lang == "zh" else pair[1]


def code_label(kind: str, code: Any, lang: str = "zh") -> str:
    """Words for a code of the data model, in ``lang``.

    Parameters
    ----------
    kind
        ``level``, ``decision``, ``mode``, ``band``, ``reuse`` (labels from
        :mod:`schoolplan.schema`), or ``stage``, ``cause``, ``site`` (labels here).
    code
        The code (``"merge"``, ``"lower"``, ``"community/kindergarten"`` ...); several
        codes joined by ``/`` are labelled one by one.
    lang
        ``zh`` or ``en``.

    Returns
    -------
    str
        The label; an unknown code is returned as it is; None/NaN gives "—".
    """
    from schoolplan.fmt import DASH, is_missing
    from schoolplan.schema import BANDS, DECISIONS, LEVEL_LABELS, MODES, REUSES

    if is_missing(code):
        return DASH
    if isinstance(code, bool):
        return t("yes" if code else "no", lang)
    text = str(code)
    tables: dict[str, Mapping[str, Mapping[str, object]]] = {
        "level": LEVEL_LABELS, "decision": DECISIONS, "mode": MODES, "band": BANDS, "reuse": REUSES}
    if kind in tables:
        table = tables[kind]
        parts = [str(table[p][lang]) if p in table else
                 (LEVEL_LABELS[p][lang] if kind == "reuse" and p in LEVEL_LABELS else p)
                 for p in text.split("/")]
        return ("、" if lang == "zh" else " / ").join(parts)
    return t(f"{kind}_{text}", lang) if f"{kind}_{text}" in LABELS else text


def local_names(frame: pd.DataFrame, lang: str = "zh") -> pd.Series:
    """Names of the features of a layer in ``lang``.

    English uses ``name_en`` where the layer has it and it is not empty (townships,
    zones and schools may carry one), else ``name``; Chinese uses ``name``. Features
    without a name show their id.

    Returns
    -------
    pandas.Series
        Indexed like ``frame``.
    """
    import pandas as pd

    ids = pd.Series(frame.index.astype(str), index=frame.index)
    name = frame["name"].astype("string").where(frame["name"].notna()) if "name" in frame else ids
    if lang == "en" and "name_en" in frame:
        en = frame["name_en"].astype("string").str.strip()
        name = en.where(en.notna() & (en != ""), name)
    return name.fillna(ids).astype(str)
