"""控辍保学 risk from a plan: the pupils a layout change could push out of school.

Read from a plan's assignment (one row per group of pupils: village × grade band ×
school today × school after the plan, with ``minutes`` and ``minutes_before``). Only
pupils who change school (``moved``) can be put at risk by the plan; the rules are the
plan's own (``plan.params``: the day limit of each band, the bands allowed to board).

A group is at risk for one or more of these reasons:

``longer_ride``
    a day pupil (walk or bus) whose one-way trip grows by at least
    :math:`\\Delta` minutes (``[dropout_risk] ride_increase_minutes``):
    :math:`t - t_0 \\ge \\Delta`;
``newly_over_limit``
    a day pupil now riding longer than the band's day limit :math:`L_b` who was within it:
    :math:`t > L_b \\ge t_0`;
``newly_boarding``
    a boarder now who was a day pupil at the school attended today
    (:math:`t_0 \\le L_b` or the band could not board);
``young_boarder``
    a new boarder of primary age (grades 1–6; 国办发〔2018〕27号: 小学低年级原则上不寄宿,
    高年级以走读为主).

``at_risk`` counts each pupil once, whatever the number of reasons.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from schoolplan.schema import BANDS

if TYPE_CHECKING:
    from schoolplan.results import LayoutPlan

__all__ = ["RISK_KINDS", "risk_by_school", "risk_by_township", "risk_groups"]

#: Risk kinds → (zh, en), in display order.
RISK_KINDS: dict[str, tuple[str, str]] = {
    "longer_ride": ("单程明显变长的走读生", "Day pupils whose ride grows"),
    "newly_over_limit": ("新增超过走读时限的学生", "Newly over the day limit"),
    "newly_boarding": ("新增寄宿生", "Newly boarding"),
    "young_boarder": ("其中小学新增寄宿生", "of which primary-age new boarders"),
    "at_risk": ("受影响学生（不重复计）", "Pupils at risk (each once)"),
}

_PRIMARY_BANDS = tuple(b for b, v in BANDS.items() if v["stage"] == "primary")


def risk_groups(plan: LayoutPlan, standards: Mapping[str, Any]) -> pd.DataFrame:
    """Flag every group of pupils the plan puts at risk (module docs).

    Parameters
    ----------
    plan
        A :class:`~schoolplan.results.LayoutPlan`.
    standards
        Norms; ``standards["dropout_risk"]["ride_increase_minutes"]``.

    Returns
    -------
    pandas.DataFrame
        The groups with at least one risk: ``village_id, band, school_before,
        school_id, pupils, minutes_before, minutes, mode`` and one bool column per
        kind of :data:`RISK_KINDS` (``at_risk`` always True).
    """
    a = plan.assignment
    cols = ["village_id", "band", "school_before", "school_id", "pupils", "minutes_before", "minutes", "mode",
            *RISK_KINDS]
    if a is None or not len(a):
        return pd.DataFrame(columns=cols)
    delta = float(standards.get("dropout_risk", {}).get("ride_increase_minutes", np.nan))
    if not np.isfinite(delta):
        raise KeyError("standards [dropout_risk] ride_increase_minutes")
    limits = dict(plan.params.get("day_limit_minutes", {}))
    can_board = set(plan.params.get("boarding_bands", ()))
    lim = a["band"].map(limits).astype(float)
    t = a["minutes"].astype(float)
    t0 = a["minutes_before"].astype(float)
    moved = a["moved"].astype(bool)
    day = a["mode"].isin(["walk", "bus"])
    boarded_before = (t0 > lim) & a["band"].isin(can_board)
    out = a.assign(
        longer_ride=moved & day & (t - t0 >= delta),
        newly_over_limit=moved & day & (t > lim) & (t0 <= lim),
        newly_boarding=moved & (a["mode"] == "boarding") & ~boarded_before,
    )
    out["young_boarder"] = out["newly_boarding"] & out["band"].isin(_PRIMARY_BANDS)
    out["at_risk"] = out[["longer_ride", "newly_over_limit", "newly_boarding"]].any(axis=1)
    return out.loc[out["at_risk"], cols].reset_index(drop=True)


def _count(groups: pd.DataFrame, by: str) -> pd.DataFrame:
    rows = {k: groups["pupils"].where(groups[k], 0).groupby(groups[by]).sum() for k in RISK_KINDS}
    return pd.DataFrame(rows).fillna(0).astype(int)


def risk_by_township(groups: pd.DataFrame, villages: pd.DataFrame, *, names: Mapping[Any, str] | None = None,
                     top: int = 5) -> pd.DataFrame:
    """Pupils at risk per township of residence, with the villages named.

    Parameters
    ----------
    groups
        :func:`risk_groups`.
    villages
        The county's villages (``township_id``, ``name``), indexed by ``village_id``.
    names
        Village id → display name (default: the ``name`` column).
    top
        How many villages to name per township (most pupils at risk first).

    Returns
    -------
    pandas.DataFrame
        ``township_id``, the :data:`RISK_KINDS` counts and ``villages`` ("name (n), …").
    """
    cols = ["township_id", *RISK_KINDS, "villages"]
    if not len(groups):
        return pd.DataFrame(columns=cols)
    g = groups.assign(township_id=groups["village_id"].map(villages["township_id"]).fillna("?"))
    out = _count(g, "township_id").reset_index(names="township_id")
    label = names if names is not None else villages["name"].astype(str).to_dict()
    per_v = g.groupby(["township_id", "village_id"])["pupils"].sum().reset_index().sort_values(
        ["township_id", "pupils", "village_id"], ascending=[True, False, True])
    text = per_v.groupby("township_id").apply(
        lambda d: ", ".join(f"{label.get(v, v)} ({n})" for v, n in zip(d["village_id"][:top], d["pupils"][:top],
                                                                     strict=True))
        + (" …" if len(d) > top else ""), include_groups=False)
    out["villages"] = out["township_id"].map(text).fillna("")
    return out[cols].sort_values("at_risk", ascending=False, kind="stable").reset_index(drop=True)


def risk_by_school(groups: pd.DataFrame) -> pd.DataFrame:
    """Pupils at risk per school they attend today (the decision that causes it).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``school_before``: the :data:`RISK_KINDS` counts.
    """
    if not len(groups):
        return pd.DataFrame(columns=list(RISK_KINDS))
    return _count(groups, "school_before")
