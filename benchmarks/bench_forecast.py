"""Seat-demand forecast: rolling-origin back-tests on real series, and speed.

What it measures (every fit at origin o uses data — births included — up to o only;
persistence = the origin year carried forward; MAPE = mean |F − A| / A × 100; bias =
mean (F − A) / A × 100; coverage = share of actuals inside p10–p90):

1. US enrolment by grade 1986–2017 (NCES CCD, ``tests/data/enrollment``): grades 1–12
   forecast with the kindergarten cohort as the births proxy (``births(y) = K(y + 5)``,
   entry age 6, births registered to the year before the origin: ``births_lag_years=1``),
   origins 2003–2016, horizons 1–5. Selection units DC, Vermont, Wyoming (the issue's
   targets); the defaults were chosen on them (table 2). Then 12 small states used while
   developing and the other 36 states held out from every choice (needs the full file
   in ``../shared/data/enrollment``). A harsher design without any births (kindergarten
   projected like births) is shown too.
2. The births projection itself on national births series (China: UN WPP estimates,
   NBS counts; 236 countries 1990–2016 when ``../shared/data/china_stats`` is present).
3. The national two-stage intake/pupils model on MOE bulletins (as before).
4. Speed: the forecast stage of the demo's first scenario, a 30-township × 9-grade ×
   20-year county with intervals, and the births trend fit (scikit-learn
   ``HuberRegressor``, the old hot path, against the closed-form robust line) in the
   same run.

Run: ``PYTHONPATH=src .venv/bin/python benchmarks/bench_forecast.py [--shared ../shared/data]``;
prints the tables and writes ``benchmarks/RESULTS_forecast.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from schoolplan import forecast as fc
from schoolplan.forecast.births import robust_line
from schoolplan.forecast.cohort import DEFAULT_COMBINE
from schoolplan.forecast.ratios import DEFAULT_ENTRY_WINDOW, DEFAULT_PROGRESSION_WINDOW

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests" / "data"
OUT = Path(__file__).resolve().parent / "RESULTS_forecast.md"
US_FILE = "enrollment/us_states_nces_ccd_enrollment_by_grade_1986_2017.csv"
SELECTION = ("DISTRICT_OF_COLUMBIA", "VERMONT", "WYOMING")
DEVELOPMENT = ("NORTH_DAKOTA", "ALASKA", "SOUTH_DAKOTA", "DELAWARE", "RHODE_ISLAND", "MONTANA", "MAINE",
               "NEW_HAMPSHIRE", "HAWAII", "WEST_VIRGINIA", "IDAHO", "NEBRASKA")
ORIGINS = range(2003, 2017)
HORIZONS = range(1, 6)
GRADES = list(range(1, 13))
TARGETS = {1: 1.3, 3: 2.4, 5: 3.4}


def load() -> float:
    return os.getloadavg()[0]


def md(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for row in df.astype(object).itertuples(index=False):
        lines.append("| " + " | ".join("—" if (isinstance(v, float) and np.isnan(v)) else str(v) for v in row) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- US back-tests


def us_data(shared: Path | None) -> pd.DataFrame:
    full = None if shared is None else shared / US_FILE
    path = full if full is not None and full.exists() else TESTS / "enrollment" / "us_dc_vt_wy_enrollment_by_grade_1986_2017.csv"
    return pd.read_csv(path, dtype={"grade": str})


def unit(d: pd.DataFrame, name: str, *, births_known: bool) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    u = d[d.district == name]
    k = u[u.grade == "K"]
    if births_known:  # grades 1–12 from the kindergarten cohort a year earlier, like births at 6
        g = u[u.grade.isin([str(i) for i in GRADES])]
        e = pd.DataFrame({"year": g.year, "grade": g.grade.astype(int), "students": g.students})
        b = pd.DataFrame({"year": k.year - 5, "births": k.students})
        return e, b, {"grades": GRADES, "entry_age": 6, "births_lag_years": 1}
    g = u[u.grade.isin(["K", *map(str, GRADES)])]  # K–12, kindergarten itself projected like births
    e = pd.DataFrame({"year": g.year, "grade": g.grade, "students": g.students})
    b = pd.DataFrame({"year": k.year, "births": k.students})
    return e, b, {"grades": ["K", *map(str, GRADES)], "entry_age": 0}


def run_units(d: pd.DataFrame, names: Iterable[str], *, births_known: bool = True, **kw: Any) -> pd.DataFrame:
    frames = []
    for name in names:
        e, b, design = unit(d, name, births_known=births_known)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bt = fc.backtest(e, b, origins=ORIGINS, horizons=HORIZONS, **design, **kw)
        frames.append(bt.assign(unit=name))
    return pd.concat(frames, ignore_index=True)


def by_horizon(bt: pd.DataFrame) -> pd.DataFrame:
    tot = fc.summarize_backtest(bt[bt.scope == "total"]).set_index("horizon")
    grd = fc.summarize_backtest(bt[bt.scope == "grade"]).set_index("horizon")
    out = pd.DataFrame({
        "horizon": tot.index, "n": tot.n.to_numpy(),
        "total MAPE %": tot.mape.round(2).to_numpy(), "persistence %": tot.mape_persistence.round(2).to_numpy(),
        "beats": tot.beats_persistence.map({True: "yes", False: "no"}).to_numpy(),
        "bias %": tot.bias.round(2).to_numpy(), "total p10–p90 cover %": tot.coverage.round(0).to_numpy(),
        "grade MAPE %": grd.mape.round(2).to_numpy(), "grade cover %": grd.coverage.round(1).to_numpy(),
    })
    return out


def grade_cover(bt: pd.DataFrame) -> float:
    g = bt[bt.scope == "grade"]
    return float(((g.p10 <= g.actual) & (g.actual <= g.p90)).mean() * 100)


def per_unit(bt: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for name, b in bt.groupby("unit", sort=False):
        s = fc.summarize_backtest(b[b.scope == "total"]).set_index("horizon")
        rows.append({"unit": name, **{f"h{h} model / persistence %": f"{s.mape[h]:.2f} / {s.mape_persistence[h]:.2f}"
                                      for h in (1, 3, 5)}, "grade cover %": round(grade_cover(b), 1)})
    return pd.DataFrame(rows)


def sweep(d: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Candidate settings on the selection units, and the one the rule picks."""
    configs: list[dict[str, Any]] = [{"progression_window": pw, "entry_window": ew, "combine": combine}
                                     for pw in (3, 5, 8, None) for ew in (10, None) for combine in (False, True)]
    configs += [{"progression_window": 5, "entry_window": 10, "combine": False, "break_threshold": None},
                {"progression_window": 5, "entry_window": 10, "combine": False, "error_window_years": None}]
    rows, best, best_key = [], None, None
    for kw in configs:
        bt = run_units(d, SELECTION, **kw)
        tot = fc.summarize_backtest(bt[bt.scope == "total"]).set_index("horizon")
        worst = max(fc.summarize_backtest(b[b.scope == "total"]).set_index("horizon")
                    .pipe(lambda s: max(s.mape[h] / s.mape_persistence[h] for h in (3, 5)))
                    for _, b in bt.groupby("unit"))
        ok = all(tot.mape[h] <= t for h, t in TARGETS.items()) and worst < 1
        mean = float(tot.mape.mean())
        rows.append({"progression_window": kw["progression_window"] or "all",
                     "entry_window": kw["entry_window"] or "all", "combine": kw["combine"],
                     "break τ": "off" if kw.get("break_threshold", 0.03) is None else "3 %",
                     "error window": "all" if kw.get("error_window_years", 8) is None else "8 y",
                     **{f"h{h} %": round(tot.mape[h], 2) for h in (1, 3, 5)},
                     "mean h1–5 %": round(mean, 2), "worst unit model/persistence (h3, h5)": round(worst, 2),
                     "grade cover %": round(grade_cover(bt), 1), "meets targets": "yes" if ok else "no"})
        eligible = not kw["combine"] and len(kw) == 3
        if ok and eligible and (best is None or mean < best):
            best, best_key = mean, kw
    return pd.DataFrame(rows), best_key or {}


def demo_combine_effect() -> str:
    """Primary pupils in 2030 on the demo county with and without the combination (no other step)."""
    from schoolplan.county import load_county

    demo = ROOT / "data" / "demo_county"
    if not (demo / "county.toml").exists():
        return "the demo county is not built"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        county = load_county(demo)
        e = fc.enrolment_by_zone(county.enrolment, county.schools)
        e = e[e["level"] == "primary"]
        b = county.births.rename(columns={"township_id": "zone"})
        p50 = {c: fc.seat_demand(e, b, horizon_years=6, levels=["primary"], combine=c)
               .query("year == 2030")["p50"].sum() for c in (False, True)}
    return (f"in the demo county it gives {p50[True]:,.0f} primary pupils in 2030 instead of "
            f"{p50[False]:,.0f} ({p50[True] / p50[False] - 1:+.0%})")


def us_section(d: pd.DataFrame) -> tuple[str, dict[str, Any]]:
    t0 = time.perf_counter()
    sel = run_units(d, SELECTION)
    table, chosen = sweep(d)
    found = []
    for name in SELECTION:
        e, _, design = unit(d, name, births_known=True)
        br = fc.detect_breaks(e, grades=design["grades"])
        found += [f"{name.title().replace('_', ' ')} {r.year} ({r.kind})" for r in br.itertuples()]
    harsh = run_units(d, SELECTION, births_known=False)
    states = sorted(set(d.district))
    have_all = len(states) > len(SELECTION)
    text = [f"""## 1. US enrolment by grade (NCES CCD 1986–2017)

Design: grades 1–12; entrants to grade 1 from the kindergarten cohort a year earlier as
the births proxy (`births(y) = K(y + 5)`, entry age 6), which is known at the origin as
births registered up to the year before would be (`births_lag_years=1`); the proxy holds
kindergarten migration that real births would not, so entry cells are somewhat easier
than with births. Origins {ORIGINS.start}–{ORIGINS.stop - 1}, horizons 1–5, default settings.

### Selection units: DC, Vermont, Wyoming (pooled)

{md(by_horizon(sel))}

Targets (issue 17): total MAPE ≤ 1.3 / 2.4 / 3.4 % at 1 / 3 / 5 years, beat persistence at
3 and 5 years, p10–p90 covering 70–90 % of grade actuals (here {grade_cover(sel):.1f} %).

{md(per_unit(sel))}

### How the defaults were chosen (selection units only)

Rule: among settings that meet the three MAPE targets and beat persistence at 3 and 5
years in *every* unit, take the lowest mean total MAPE over horizons 1–5. Combination
with persistence is not eligible as a default: it hedges every cell towards "no change",
which the US series (stable cohorts) reward, but Chinese counties after 2017 face births
down by 40 % that are already registered: {demo_combine_effect()}. It stays an option
(`combine=True`).

{md(table)}

Picked by the rule: `{chosen}`. The last two rows switch off break detection and the
error window on top of that pick (not part of the rule): count breaks found in the whole
history are few ({", ".join(found) or "none"}), and the error window only moves the bands.

### Harsher design: no births at all (kindergarten projected like births, K–12 totals)

Kindergarten and every later entry cohort come from the births model applied to the
kindergarten series (entry age 0), so entry error enters at every horizon.

{md(by_horizon(harsh))}
"""]
    if have_all:
        dev = run_units(d, DEVELOPMENT)
        dev_c = run_units(d, DEVELOPMENT, combine=True)
        held_names = [s for s in states if s not in SELECTION and s not in DEVELOPMENT]
        held = run_units(d, held_names)
        held_c = run_units(d, held_names, combine=True)

        def beats(bt: pd.DataFrame) -> str:
            n3 = n5 = 0
            for _, b in bt.groupby("unit"):
                s = fc.summarize_backtest(b[b.scope == "total"]).set_index("horizon")
                n3 += s.mape[3] < s.mape_persistence[3]
                n5 += s.mape[5] < s.mape_persistence[5]
            return f"{n3} / {n5} of {bt.unit.nunique()}"

        rows = []
        for label, bt in (("development (12 small states), default", dev),
                          ("development, combine=True", dev_c),
                          (f"held out ({len(held_names)} states), default", held),
                          ("held out, combine=True", held_c)):
            tot = fc.summarize_backtest(bt[bt.scope == "total"]).set_index("horizon")
            rows.append({"set": label, **{f"h{h} model / persistence %": f"{tot.mape[h]:.2f} / {tot.mape_persistence[h]:.2f}"
                                          for h in (1, 3, 5)},
                         "units beating persistence at h3 / h5": beats(bt), "grade cover %": round(grade_cover(bt), 1)})
        text.append(f"""### Other states

The 12 development states were looked at while building the model (they showed, e.g., that
a 10-year entry window beats all years when the proxy drifts: New Hampshire's public
kindergarten grew while births fell). The {len(held_names)} held-out states were run once,
with the defaults fixed.

{md(pd.DataFrame(rows))}
""")
    else:
        text.append("Other states: skipped (pass --shared with the full NCES file).\n")
    text.append(f"US back-tests: {time.perf_counter() - t0:.0f} s.\n")
    return "\n".join(text), chosen


# --------------------------------------------------------------------------- births projection


def births_section(shared: Path | None) -> str:
    un = pd.read_csv(TESTS / "china_stats" / "china_births_unwpp2022_1950_2100.csv")
    un = un.loc[un["variant"] == "estimate", ["year", "births"]]
    nbs = pd.read_csv(TESTS / "china_stats" / "china_births_nbs_2010_2024.csv")[["year", "births"]]
    models = {"damped trend, window 4, φ 0.8 (default)": {},
              "damped trend, window 6, φ 0.8 (old default)": {"births_window": 6},
              "damped trend, window 4, φ 0.5": {"damping": 0.5},
              "mean of last 3 years": {"births_model": "recent_mean", "births_window": 3}}
    hs = (1, 2, 3, 5, 8, 10)

    def table(series: list[pd.DataFrame], origins: range, horizons: Iterable[int]) -> pd.DataFrame:
        rows = []
        for label, kw in models.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                bt = pd.concat([fc.backtest_births(b, origins=origins, horizons=horizons, **kw) for b in series])
            s = fc.summarize_backtest(bt).set_index("horizon")
            rows.append({"model": label, **{f"h{h} %": round(s.mape[h], 1) for h in horizons}})
        rows.append({"model": "persistence", **{f"h{h} %": round(s.mape_persistence[h], 1) for h in horizons}})
        return pd.DataFrame(rows)

    text = [f"""## 2. Births projection (`backtest_births`), MAPE %

China, UN WPP 2022 estimates, origins 1985–2020 (births fell from 25 M to 16 M, a flat
decade, the 2016 bump, then the fall):

{md(table([un], range(1985, 2021), hs))}

China, NBS counts, origins 2015–2023 (few origins, the 2017–2023 fall):

{md(table([nbs], range(2015, 2024), (1, 2, 3, 5)))}
"""]
    world = None if shared is None else shared / "china_stats" / "owid_unwpp2022_births_per_year_all_countries.csv"
    if world is not None and world.exists():
        ow = pd.read_csv(world)
        col = "Births - Sex: all - Age: all - Variant: estimates"
        ow = ow[ow.Code.notna() & ~ow.Code.astype(str).str.startswith("OWID") & ow[col].notna()]
        series = [pd.DataFrame({"year": g.Year, "births": g[col].round()}) for _, g in ow.groupby("Code")
                  if len(g) >= 60]
        text.append(f"""All {len(series)} countries with ≥ 60 years of UN WPP 2022 estimates, origins 1990–2016
(the set the births defaults were chosen on):

{md(table(series, range(1990, 2017), (1, 3, 5, 8, 10)))}
""")
    return "\n".join(text)


# --------------------------------------------------------------------------- national two-stage


def national_section() -> str:
    ed = pd.read_csv(TESTS / "china_stats" / "china_basic_education_1998_2025.csv")
    primary = pd.DataFrame({"year": ed["year"], "intake": (ed["primary_enrol_wan"] * 1e4).round(),
                            "students": (ed["primary_students_wan"] * 1e4).round()})
    un = pd.read_csv(TESTS / "china_stats" / "china_births_unwpp2022_1950_2100.csv")
    un = un.loc[un["variant"] == "estimate", ["year", "births"]]
    bt = fc.backtest_intake_students(primary, un, origins=range(2005, 2025), horizons=range(1, 11))
    s = fc.summarize_backtest(bt, by=["series", "horizon"])
    wide = s.pivot(index="horizon", columns="series", values=["mape", "mape_persistence"]).round(2)
    tab = pd.DataFrame({"horizon": wide.index,
                        "intake model %": wide[("mape", "intake")].to_numpy(),
                        "intake persistence %": wide[("mape_persistence", "intake")].to_numpy(),
                        "pupils model %": wide[("mape", "students")].to_numpy(),
                        "pupils persistence %": wide[("mape_persistence", "students")].to_numpy()})
    return f"""## 3. National two-stage model (MOE bulletins 1998–2025, UN WPP births estimates)

`backtest_intake_students`: intake = r_E · births(t − 6); pupils = r_S · last six intakes;
origins 2005–2024.

{md(tab)}
"""


# --------------------------------------------------------------------------- speed


def synthetic_county(n_zones: int = 30, n_years: int = 20, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    years = np.arange(2024 - n_years + 1, 2025)
    rows, births = [], []
    for z in range(n_zones):
        size = rng.uniform(30, 400)
        b = size * np.exp(-0.03 * np.arange(-15, n_years)) * rng.lognormal(0, 0.05, n_years + 15)
        births += [{"zone": f"T{z:02d}", "year": int(years[0]) - 15 + i, "births": round(v)} for i, v in enumerate(b)]
        for t, y in enumerate(years):
            for g in range(1, 10):
                rows.append({"zone": f"T{z:02d}", "year": int(y), "grade": g,
                             "students": round(b[t + 15 - 6 - (g - 1)] * 0.9 * rng.lognormal(0, 0.04))})
    return pd.DataFrame(rows), pd.DataFrame(births)


def speed_section() -> str:
    from schoolplan.scenario import load_scenario, run_scenario

    rows = []
    demo = ROOT / "data" / "demo_county" / "scenarios" / "status_quo.toml"
    if demo.exists():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = run_scenario(load_scenario(demo))
        rows.append({"what": "demo, first scenario (status_quo): forecast stage", "seconds": round(r.timings["forecast"], 3),
                     "target s": 1.0, "baseline": "17.7 s (issue); 11.2 s measured here before the change"})
    e, b = synthetic_county()
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fc.cohort_forecast(e, b, horizon_years=11, grades=range(1, 10))
        times.append(time.perf_counter() - t0)
    assert len(out.pupils) == 30 * 11 * 9
    rows.append({"what": "30 townships × 9 grades × 20 years, 11-year forecast with bands (median of 3)",
                 "seconds": round(float(np.median(times)), 3), "target s": 2.0, "baseline": "—"})
    # births trend fit: the old hot path (one HuberRegressor per series) vs the closed-form robust line
    rng = np.random.default_rng(1)
    z = np.log1p(1000 * np.exp(-0.05 * np.arange(6))[None, :] * rng.lognormal(0, 0.05, (72, 6)))
    x = np.arange(-5, 1, dtype=float)
    from sklearn.linear_model import HuberRegressor

    t0 = time.perf_counter()
    slopes = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for row in z:
            slopes.append(HuberRegressor(alpha=0.0, max_iter=500).fit(x[:, None], row).coef_[0])
    t_sk = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, ours = robust_line(x, z)
    t_ours = time.perf_counter() - t0
    rows.append({"what": "72 robust births-trend fits: scikit-learn HuberRegressor (old) → closed-form robust line",
                 "seconds": f"{t_sk:.3f} → {t_ours:.4f}", "target s": "—",
                 "baseline": f"slopes agree to {np.max(np.abs(np.array(slopes) - ours)):.4f} (log births/yr)"})
    return f"""## 4. Speed

{md(pd.DataFrame(rows))}
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data",
                    help="folder with the full NCES file and the OWID births (optional; default ../shared/data)")
    args = ap.parse_args()
    shared = args.shared if args.shared.exists() else None
    start_load, t0 = load(), time.perf_counter()
    d = us_data(shared)
    us, chosen = us_section(d)
    defaults = {"progression_window": DEFAULT_PROGRESSION_WINDOW, "entry_window": DEFAULT_ENTRY_WINDOW,
                "combine": DEFAULT_COMBINE}
    same = "yes" if chosen == defaults else f"NO (defaults are {defaults})"
    parts = [us, births_section(shared), national_section(), speed_section()]
    seconds = time.perf_counter() - t0
    head = f"""# Seat-demand forecast: back-tests and speed

Generated by `benchmarks/bench_forecast.py` (Python {platform.python_version()}, pandas {pd.__version__},
numpy {np.__version__}) in {seconds:.0f} s on 2 shared cores, load average {start_load:.1f} at start and
{load():.1f} at end. Data: `tests/data` (see the READMEs there){" and " + str(shared) if shared else ""}.

Defaults (``schoolplan.forecast``): progression ratios over the last 5 usable years, entry
ratio over the last 10, equal weights, count breaks at τ = 3 %, births by a damped robust
trend (window 4, φ 0.8), no combination with persistence, bands from the errors of the
last 8 target years. The rule of table 1 picks the package defaults: {same}.
"""
    text = "\n".join([head, *parts])
    print(text)
    OUT.write_text(text, encoding="utf-8")
    print(f"written {OUT}")


if __name__ == "__main__":
    main()
