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
