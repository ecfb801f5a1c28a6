"""控辍保学 and 优质均衡 readiness: who is missing from school, who a plan puts at risk,
and what it takes to pass the inspection.

Three parts, each a module with its maths in its docstring:

- :mod:`~schoolplan.readiness.cohorts` — 底数: children of each compulsory age against
  pupils of that grade by township and year, cohort retention, suspected out-of-school
  pupils (疑似辍学) and the 巩固率;
- :mod:`~schoolplan.readiness.risk` — pupils a plan puts at risk (longer rides, newly over
  the day limit, newly boarding, young boarders), by township with the villages named
  and by the school whose decision causes it;
- :mod:`~schoolplan.readiness.balance` — the seven 优质均衡 indicators per school, the
  差异系数 per pool, and the cheapest set of additions that makes every school and the
  county pass.

:func:`layout_readiness` assesses one layout (today's register, or a plan's schools in
its target year) and :func:`county_inspection` the county as it is today (the
``schoolplan inspect`` command).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from schoolplan.metrics import BALANCE_INDICATORS
from schoolplan.readiness.balance import (
    balance_pools,
    cheapest_fix,
    county_readiness,
    school_readiness,
    thresholds,
)
from schoolplan.readiness.cohorts import (
    COMPULSORY_GRADES,
    COUNTY,
    children_by_age,
    cohort_retention,
    cohort_table,
    consolidation_rate,
    pupils_by_grade,
)
from schoolplan.readiness.risk import RISK_KINDS, risk_by_school, risk_by_township, risk_groups
from schoolplan.results import Readiness
from schoolplan.schema import COMPULSORY_LEVELS

if TYPE_CHECKING:
    from schoolplan.county import County
    from schoolplan.results import LayoutPlan

__all__ = [
    "COMPULSORY_GRADES",
    "COUNTY",
    "RISK_KINDS",
    "balance_pools",
    "cheapest_fix",
    "children_by_age",
    "cohort_retention",
    "cohort_table",
    "consolidation_rate",
    "county_inspection",
    "county_readiness",
    "layout_readiness",
    "plan_readiness",
    "pupils_by_grade",
    "risk_by_school",
    "risk_by_township",
    "risk_groups",
    "school_readiness",
    "thresholds",
]

_RESOURCES = [c for c, *_ in BALANCE_INDICATORS.values()]


def _today(county: County) -> pd.DataFrame:
    s = county.schools
    return s[s["status"].eq("open") & s["level"].isin(COMPULSORY_LEVELS)]


def _after(county: County, plan: LayoutPlan) -> pd.DataFrame:
    """Schools that teach compulsory grades after the plan, with their target-year pupils.

    Resources are today's (the plan's new classrooms and redeployed teachers are not
    added: the readiness shown is before any 优质均衡 investment); new schools have none
    recorded and are not assessable.
    """
    s = plan.schools
    open_ = s[s["decision"].isin(["keep", "expand", "new"]) & s["level"].isin(COMPULSORY_LEVELS)]
    res = county.schools.reindex(columns=_RESOURCES)
    out = open_[["level"]].join(res, how="left")
    out["students"] = open_["students_after"].astype(float)
    return out


def layout_readiness(schools: pd.DataFrame, standards: Mapping[str, Any], *, plan: LayoutPlan | None = None,
                     villages: pd.DataFrame | None = None, fix: bool = True) -> Readiness:
    """优质均衡 readiness of one layout and, for a plan, the 控辍保学 risk it creates.

    Parameters
    ----------
    schools
        Compulsory schools (``level``, ``students`` and the resource columns).
    standards
        Norms.
    plan
        The :class:`~schoolplan.results.LayoutPlan` the layout comes from (None: today).
    villages
        The county's villages (to name them in the risk table).
    fix
        Solve the cheapest fix (a small MILP).

    Returns
    -------
    Readiness
    """
    have = [c for c in _RESOURCES if c in schools and schools[c].notna().any()]
    per = school_readiness(schools, standards) if have else pd.DataFrame()
    cv = county_readiness(schools, standards) if have else pd.DataFrame()
    actions, fsum = (cheapest_fix(schools, standards) if have and fix else
                     (pd.DataFrame(columns=["school_id", "resource", "indicator", "add", "cost_wan"]),
                      {"status": "not_assessable", "cost_wan": np.nan}))
    groups = risk_groups(plan, standards) if plan is not None else pd.DataFrame(columns=[*RISK_KINDS])
    tw = (risk_by_township(groups, villages) if plan is not None and villages is not None
          else pd.DataFrame(columns=["township_id", *RISK_KINDS, "villages"]))
    summary: dict[str, Any] = {"assessable": bool(have)}
    if have:
        ps = per.drop_duplicates("school_id")
        summary.update({
            "schools_assessed": int(ps["passes"].notna().sum()),
            "schools_passing": int(ps["passes"].fillna(False).sum()),
            "schools_failing": int((ps["passes"] == False).sum()),  # noqa: E712 - NA stays out
            "schools_not_assessable": int(ps["passes"].isna().sum()),
            "cv_failing": int((cv["cv_pass"] == False).sum()),  # noqa: E712
            "cv_primary_max": float(cv.loc[cv["level"] == "primary", "cv"].max()),
            "cv_junior_max": float(cv.loc[cv["level"] == "junior", "cv"].max()),
        })
    summary.update({f"fix_{k}": v for k, v in fsum.items() if k not in ("cv_after", "left_out")})
    summary["fix_left_out"] = list(fsum.get("left_out", []))
    for k in RISK_KINDS:
        summary[f"risk_{k}"] = int(groups.loc[groups[k].astype(bool), "pupils"].sum()) if len(groups) else 0
    return Readiness(schools=per, coefficients=cv, fix=actions, risk=groups, risk_townships=tw,
                     risk_schools=risk_by_school(groups), summary=summary)


def plan_readiness(county: County, plan: LayoutPlan, standards: Mapping[str, Any]) -> Readiness:
    """:func:`layout_readiness` of a plan's schools in its target year, with its risk."""
    return layout_readiness(_after(county, plan), standards, plan=plan, villages=county.villages)


def county_inspection(county: County, standards: Mapping[str, Any]) -> dict[str, Any]:
    """The county today: 底数 tables, 巩固率, suspected out-of-school pupils and readiness.

    Returns
    -------
    dict
        ``cohorts`` (:func:`cohort_table`), ``retention`` (:func:`cohort_retention`),
        ``rates`` (:func:`consolidation_rate`), ``readiness`` (:func:`layout_readiness`
        of today's register), ``summary`` (headline figures) and ``norms`` (the thresholds
        used, for display).
    """
    cohorts = cohort_table(county)
    retention = cohort_retention(county, standards)
    rates = consolidation_rate(county)
    ready = layout_readiness(_today(county), standards)
    base = int(county.base_year)
    now = cohorts[(cohorts["township_id"] == COUNTY) & (cohorts["year"] == base)]
    last = rates.dropna(subset=["nine_year_rate"]).tail(1)
    last_j = rates.dropna(subset=["junior_rate"]).tail(1)
    susp = retention[retention["suspected"] > 0]
    summary = {
        "base_year": base,
        "children": float(now["children"].sum(min_count=1)),
        "pupils": int(now["pupils"].sum()),
        "rate_year": int(last["year"].iloc[0]) if len(last) else None,
        "rate": float(last["nine_year_rate"].iloc[0]) if len(last) else np.nan,
        "rate_migration_adjusted": float(last["migration_adjusted_rate"].iloc[0]) if len(last) else np.nan,
        "junior_rate": float(last_j["junior_rate"].iloc[0]) if len(last_j) else np.nan,
        "junior_rate_min": float(standards["balance"]["junior_retention_min"]),
        "suspected_base_year": int(susp.loc[susp["year"] == base, "suspected"].sum()),
        "suspected_all_years": int(susp["suspected"].sum()),
        "suspected_cohorts": len(susp),
        **{f"readiness_{k}": v for k, v in ready.summary.items()},
    }
    bal = standards["balance"]
    norms = {"ride_increase_minutes": float(standards["dropout_risk"]["ride_increase_minutes"]),
             "cv_primary": float(bal["cv_primary"]), "cv_junior": float(bal["cv_junior"]),
             "school_min_indicators_met": int(bal["school_min_indicators_met"]),
             "school_min_share_of_threshold": float(bal["school_min_share_of_threshold"]),
             "junior_retention_min": float(bal["junior_retention_min"])}
    return {"cohorts": cohorts, "retention": retention, "rates": rates, "readiness": ready, "summary": summary,
            "norms": norms}
