"""Seat demand from birth cohorts (学位需求预测).

How many kindergarten (幼儿园), primary (小学) and junior-middle (初中) pupils each
township or county-seat zone will have every year, with an 80 % range, as births fall
after the 2016–17 peak and families move into the county seat (进城读书).

One module per job:

=====================  ==============================================================
``ratios``             entry and grade-progression ratios over windows of usable years
``breaks``             count breaks: detected, reported, left out and bridged
``births``             births projection (closed-form robust damped trend), scenarios,
                       back-test of the projection itself
``cohort``             the cohort-survival model, combination with persistence, bands
``intervals``          bands from the model's own past log errors (Student-t widened)
``backtest``           rolling-origin back-test and its summary (MAPE, bias, coverage)
``demand``             seat demand for the three stages (kindergarten, primary, junior)
``reallocate``         进城读书 (:func:`urbanisation_shift`) and 两集中 (:func:`concentrate`)
``housing``            pupils from new housing (:func:`housing_yield`)
``seats``              classes and seats against class-size norms and capacity
``national``           two-stage intake/pupils model for national series
=====================  ==============================================================

Quick use::

    from schoolplan import forecast as fc
    sf = fc.seat_forecast(enrolment, births, horizon_years=11)
    sf.demand        # zone, level, grade, year, p10, p50, p90
    sf.totals        # zone, level, year, p10, p50, p90 (bands of the totals themselves)
    sf.diagnostics   # count breaks, pooled ratios, short history … as rows
    bt = fc.backtest(county_primary, county_births, origins=range(2016, 2024), horizons=range(1, 6))
    fc.summarize_backtest(bt[bt.scope == "total"])   # MAPE, bias, coverage, persistence

The defaults were chosen by rolling-origin back-tests (``benchmarks/bench_forecast.py``,
results in ``benchmarks/RESULTS_forecast.md``).
"""

from schoolplan.forecast._inputs import DEFAULT_ENTRY_AGES, DEFAULT_LEVEL_GRADES, LEVELS
from schoolplan.forecast.backtest import backtest, summarize_backtest
from schoolplan.forecast.births import (
    BIRTH_SCENARIOS,
    SCENARIO_RAMP_YEARS,
    backtest_births,
    project_births,
)
from schoolplan.forecast.breaks import detect_breaks
from schoolplan.forecast.cohort import CohortForecast, cohort_forecast, cohort_survival
from schoolplan.forecast.demand import SeatForecast, enrolment_by_zone, seat_demand, seat_forecast
from schoolplan.forecast.housing import (
    DEFAULT_PERSONS_PER_DWELLING,
    DEFAULT_PUPILS_PER_1000,
    add_extra_pupils,
    housing_yield,
)
from schoolplan.forecast.national import backtest_intake_students, intake_students_forecast
from schoolplan.forecast.ratios import fit_ratios
from schoolplan.forecast.reallocate import concentrate, urbanisation_shift
from schoolplan.forecast.seats import (
    DEFAULT_CLASS_SIZES,
    class_size_table,
    classes_needed,
    seat_balance,
)

__all__ = [
    "BIRTH_SCENARIOS",
    "DEFAULT_CLASS_SIZES",
    "DEFAULT_ENTRY_AGES",
    "DEFAULT_LEVEL_GRADES",
    "DEFAULT_PERSONS_PER_DWELLING",
    "DEFAULT_PUPILS_PER_1000",
    "LEVELS",
    "SCENARIO_RAMP_YEARS",
    "CohortForecast",
    "SeatForecast",
    "add_extra_pupils",
    "backtest",
    "backtest_births",
    "backtest_intake_students",
    "class_size_table",
    "classes_needed",
    "cohort_forecast",
    "cohort_survival",
    "concentrate",
    "detect_breaks",
    "enrolment_by_zone",
    "fit_ratios",
    "housing_yield",
    "intake_students_forecast",
    "project_births",
    "seat_balance",
    "seat_demand",
    "seat_forecast",
    "summarize_backtest",
    "urbanisation_shift",
]
