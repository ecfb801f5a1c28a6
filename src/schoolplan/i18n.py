"""User-facing labels in Chinese and English (``--lang zh|en``)."""

from __future__ import annotations

from typing import Literal

__all__ = ["LABELS", "Lang", "check_lang", "t"]

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
