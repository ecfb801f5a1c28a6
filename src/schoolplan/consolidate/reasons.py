"""Why each school is kept, merged or built — in words made from its own numbers (zh and en).

Every number in a reason is taken from the keep test (:func:`~schoolplan.consolidate.policy.keep_test`)
or the closure test (:func:`~schoolplan.consolidate.policy.closure_test`), so a reason can
never contradict the school's figures; :mod:`schoolplan.audit` checks it.
"""

from __future__ import annotations

import math

import pandas as pd

from schoolplan.consolidate.rules import Rules
from schoolplan.schema import BANDS

__all__ = ["ANCHOR_REASONS", "blocked_reason", "failed_tests", "keep_reason", "upgrade_need"]

#: Why a receiving school stays (keys of :func:`~schoolplan.consolidate.policy.anchors`).
ANCHOR_REASONS: dict[str, tuple[str, str]] = {
    "central": ("乡镇中心校，作为接收学校", "township central school (receiving)"),
    "county_seat": ("县城学校，作为接收学校", "county-seat school (receiving)"),
    "nine_year": ("九年一贯制学校，小学和初中均接收", "nine-year school (receives both levels)"),
    "largest": ("乡镇规模最大的小学，视作中心校（接收学校）", "largest primary of the township, taken as central (receiving)"),
    "junior_kept": ("初中不向县城集中（规则设置）", "junior schools not concentrated (rule)"),
    "forced": ("规划指定扩建，作为接收学校", "forced by the planner to expand and receive pupils"),
}


def _n(x: float) -> str:
    return f"{round(x):,}"


def _pl(n: float, word: str) -> str:
    """``n word`` with an English plural."""
    k = round(n)
    return f"{k:,} {word}" if k == 1 else f"{k:,} {word}s"


def failed_tests(f: pd.Series, rules: Rules, year: int) -> tuple[list[str], list[str]]:
    """The keep-test conditions a school fails, in words (zh, en)."""
    zh, en = [], []
    if f["junior_moves"]:
        zh.append("初中向县城集中")
        en.append("junior schools concentrate into the county seat")
    if not f["radius_ok"]:
        zh.append(f"{_n(f['far_villages'])}个村的{_n(f['far_pupils'])}名学生距本校校车超过{rules.bus_minutes:g}分钟")
        en.append(f"{_pl(f['far_pupils'], 'pupil')} of {_pl(f['far_villages'], 'village')} live over "
                  f"{rules.bus_minutes:g} min by bus from it")
    if not f["enrolment_ok"]:
        zh.append(f"{year}年预计在校生{_n(f['pupils'])}人，少于{rules.min_enrolment}人")
        en.append(f"{_pl(f['pupils'], 'pupil')} expected in {year}, below {rules.min_enrolment}")
    if not f["quality_ok"]:
        zh.append(f"办学质量评分{f['quality']:.0f}低于{rules.min_quality:g}")
        en.append(f"quality score {f['quality']:.0f} below {rules.min_quality:g}")
    if not f["condition_ok"]:
        zh.append(f"办学条件评分{f['condition']:.0f}低于{rules.min_condition:g}")
        en.append(f"condition score {f['condition']:.0f} below {rules.min_condition:g}")
    return zh, en


def keep_reason(f: pd.Series, rules: Rules, year: int) -> tuple[str, str]:
    """Reason of a small school that passes the keep test."""
    zh = [f"生源均在校车{rules.bus_minutes:g}分钟内", f"{year}年预计在校生{_n(f['pupils'])}人（不少于{rules.min_enrolment}人）"]
    en = [f"all pupils within {rules.bus_minutes:g} min by bus",
          f"{_pl(f['pupils'], 'pupil')} expected in {year} (at least {rules.min_enrolment})"]
    scored = [(k, z, e) for k, z, e in (("quality", "质量", "quality"), ("condition", "条件", "condition"))
              if not pd.isna(f[k])]
    if scored:
        zh.append("、".join(f"办学{z}评分{f[k]:.0f}" for k, z, _ in scored) + "达标")
        en.append(" and ".join(f"{e} score {f[k]:.0f}" for k, _, e in scored) + " meet the thresholds")
    else:
        zh.append("未提供质量和条件评分")
        en.append("no quality or condition scores given")
    return "；".join(zh), "; ".join(en)


def blocked_reason(blocked: pd.DataFrame) -> tuple[str, str]:
    """应留必留: who could not reach a receiving school, in numbers."""
    zh, en = [], []
    for _, b in blocked.iterrows():
        band = str(b["band"])
        bz, be = BANDS[band]["zh"], BANDS[band]["en"]
        p, v = _n(b["pupils"]), _n(b["villages"])
        pe, ve = _pl(b["pupils"], "pupil"), _pl(b["villages"], "village")
        m = "" if pd.isna(b["minutes"]) else f"{math.ceil(b['minutes'] - 1e-9):d}"
        if b["cause"] == "over_limit":
            zh.append(f"{v}个村{p}名{bz}学生到最近的接收学校需{m}分钟（走读上限{b['limit']:g}分钟，不可寄宿）")
            en.append(f"{pe} of {be} from {ve} would ride {m} min to the nearest receiving school "
                      f"(day limit {b['limit']:g} min, may not board)")
        elif b["cause"] == "too_far":
            zh.append(f"{v}个村{p}名{bz}学生到最近的接收学校需{m}分钟，超过寄宿单程上限{b['limit']:g}分钟")
            en.append(f"{pe} of {be} from {ve} would ride {m} min, over the boarding ride limit "
                      f"of {b['limit']:g} min")
        elif b["cause"] == "no_route":
            zh.append(f"{v}个村{p}名{bz}学生没有道路通往任何接收学校")
            en.append(f"{pe} of {be} from {ve} have no road route to any receiving school")
        else:
            zh.append(f"没有接收{bz}学生的学校（{p}名学生）")
            en.append(f"no receiving school teaches {be} ({pe})")
    return "；".join(zh), "; ".join(en)


def upgrade_need(f: pd.Series, rules: Rules) -> str | None:
    """What falls short of the quality/condition thresholds (None when nothing does)."""
    parts = []
    if not f["quality_ok"]:
        parts.append(f"质量{f['quality']:.0f}<{rules.min_quality:g} / quality {f['quality']:.0f}<{rules.min_quality:g}")
    if not f["condition_ok"]:
        parts.append(f"条件{f['condition']:.0f}<{rules.min_condition:g} / condition {f['condition']:.0f}"
                     f"<{rules.min_condition:g}")
    return "; ".join(parts) or None
