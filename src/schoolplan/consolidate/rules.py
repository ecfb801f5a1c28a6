"""The consolidation policy as one typed, frozen object built from the standards data.

Every default comes from the standards TOML (``[consolidation]``, ``[class_size]``,
``[max_school_size]``, ``[teacher_ratio]``, ``[costs]``); a scenario or a caller
overrides single keys. Nothing here holds a number of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any

from schoolplan.errors import SchemaError
from schoolplan.schema import BANDS
from schoolplan.standards import load_standards

__all__ = ["FORCE_DECISIONS", "Rules", "make_rules"]

#: Decisions a planner may force on a school (``Rules.force``).
FORCE_DECISIONS: tuple[str, ...] = ("keep", "close", "expand")


def _frozen(m: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(m))


@dataclass(frozen=True)
class Rules:
    """The 两集中 consolidation rules of one plan.

    Attributes
    ----------
    bus_minutes
        School-bus radius (minutes one way): a small school stays only if its pupils
        live within it.
    day_limit_minutes
        Longest daily one-way trip per grade band (``lower``, ``upper``, ``junior``);
        beyond it pupils board (if their band may) or the closure is not allowed.
    walk_limit_minutes
        Pupils walk when the walk takes at most this long; otherwise they ride.
    min_enrolment
        A small school whose target-year pupils are fewer merges.
    min_quality, min_condition
        Quality and condition scores (0–100) a school must reach to stay as a small
        school or to receive pupils (None: not applied).
    boarding_bands
        Grade bands that may board (grades 1–3 never do).
    max_board_minutes
        Longest ride to a boarding school.
    junior_to_county_seat
        Junior middle schools concentrate into the county seat (初中向县城集中).
    class_size, max_size, teacher_ratio
        Standard class size per level, maximum school size (pupils) per level, pupils
        per teacher per stage.
    bus_seats, bus_trips
        Seats per bus and trips each bus makes in the morning.
    force
        Decisions forced by the planner per school id: ``keep``, ``close`` or
        ``expand`` (stay and receive pupils of closing schools).
    max_closures
        At most this many closures (optimise mode; None = no limit).
    allow_new
        Open new schools on candidate sites when receiving schools are full.
    costs
        Unit costs (万元): ``classroom_wan``, ``new_school_wan``, ``bed_wan``, ``bus_wan``,
        ``upgrade_school_wan``, and yearly running costs ``keep_small_school_wan``,
        ``boarding_pupil_wan`` (optimise mode).
    expansion_penalty_minutes
        Pupil-minutes charged per pupil placed above a school's current seats, so
        that pupils fill empty seats before classrooms are built.
    travel_weight
        万元 per pupil-minute (optimise mode).
    time_limit
        Solver time limit per model, seconds.
    """

    bus_minutes: float
    day_limit_minutes: Mapping[str, float]
    walk_limit_minutes: float
    min_enrolment: int
    min_quality: float | None
    min_condition: float | None
    boarding_bands: tuple[str, ...]
    max_board_minutes: float
    junior_to_county_seat: bool
    class_size: Mapping[str, int]
    max_size: Mapping[str, int]
    teacher_ratio: Mapping[str, float]
    bus_seats: int
    bus_trips: int
    force: Mapping[str, str]
    max_closures: int | None
    allow_new: bool
    costs: Mapping[str, float]
    expansion_penalty_minutes: float
    travel_weight: float
    time_limit: float

    def as_dict(self) -> dict[str, Any]:
        """Plain dict of the rules (for reports, ``run.json`` and ``LayoutPlan.params``)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = dict(v) if isinstance(v, Mapping) else (list(v) if isinstance(v, tuple) else v)
        return out

    def stage_class_size(self, level: str) -> int:
        """Standard class size of a school level (nine-year schools: the primary size)."""
        if level == "teaching_point":
            return int(self.class_size["teaching_point"])
        return int(self.class_size["junior" if level == "junior" else "primary"])

    @property
    def bus_capacity(self) -> int:
        """Pupils one bus carries in a morning (seats × trips)."""
        return int(self.bus_seats * self.bus_trips)


_OVERRIDABLE = {f.name for f in fields(Rules)} | {"fixed_open"}


def make_rules(standards: Mapping[str, Any] | None = None, **overrides: Any) -> Rules:
    """Rules from the standards data, with single keys overridden.

    Parameters
    ----------
    standards
        Norms from :func:`schoolplan.standards.load_standards` (national by default),
        already carrying any ``standards_overrides`` of the scenario.
    **overrides
        Any field of :class:`Rules` (mappings merge key by key); ``fixed_open`` (ids)
        is accepted as ``force = {id: "keep"}``. ``None`` values mean "take the
        standards".

    Returns
    -------
    Rules

    Raises
    ------
    SchemaError
        Unknown key, or a forced decision that is not keep/close/expand.
    """
    s = standards or load_standards()
    c, costs = s["consolidation"], s["costs"]
    over = {k: v for k, v in overrides.items() if v is not None}
    unknown = sorted(set(over) - _OVERRIDABLE)
    if unknown:
        raise SchemaError(f"unknown consolidation rule '{unknown[0]}'" if len(unknown) == 1 else
                          f"unknown consolidation rules {', '.join(repr(u) for u in unknown)}",
                          fix=f"use one of: {', '.join(sorted(_OVERRIDABLE))}")
    bus = float(over.get("bus_minutes", c["bus_minutes"]))
    day = {"lower": float(c["day_pupil_max_minutes"]), "upper": bus, "junior": bus}
    day.update({k: float(v) for k, v in dict(over.get("day_limit_minutes", {})).items() if v is not None})
    if set(day) != set(BANDS):
        raise SchemaError(f"day limits must be given for the bands {', '.join(BANDS)}", column="day_limit_minutes",
                          fix="use the keys lower, upper, junior")
    force = {str(k): str(v) for k, v in dict(over.get("force", {})).items()}
    force.update({str(k): "keep" for k in over.get("fixed_open", ()) if str(k) not in force})
    bad = {k: v for k, v in force.items() if v not in FORCE_DECISIONS}
    if bad:
        raise SchemaError(f"unknown forced decision(s): {bad}", column="force",
                          fix=f"use one of: {', '.join(FORCE_DECISIONS)}")
    cost = {
        "classroom_wan": float(costs["classroom_wan"]),
        "new_school_wan": float(costs["new_primary_24_wan"]),
        "bed_wan": float(costs["boarding_bed_wan"]),
        "bus_wan": float(costs["bus_wan"]),
        "upgrade_school_wan": float(costs["upgrade_school_wan"]),
        "keep_small_school_wan": float(costs["keep_small_school_wan_per_year"]),
        "boarding_pupil_wan": float(costs["boarding_pupil_wan_per_year"]),
    }
    cost.update({k: float(v) for k, v in dict(over.get("costs", {})).items()})
    cs, ms, tr = s["class_size"], s["max_school_size"], s["teacher_ratio"]
    rules = Rules(
        bus_minutes=bus,
        day_limit_minutes=_frozen(day),
        walk_limit_minutes=float(over.get("walk_limit_minutes", c["walk_max_minutes"])),
        min_enrolment=int(over.get("min_enrolment", c["min_enrolment_keep"])),
        min_quality=_opt(over, "min_quality", c["min_quality_score"]),
        min_condition=_opt(over, "min_condition", c["min_condition_score"]),
        boarding_bands=tuple(over.get("boarding_bands", _boarding_bands(c))),
        max_board_minutes=float(over.get("max_board_minutes", c["max_boarding_ride_minutes"])),
        junior_to_county_seat=bool(over.get("junior_to_county_seat", c["junior_to_county_seat"])),
        class_size=_frozen({k: int(cs[k]) for k in ("primary", "junior", "teaching_point")}
                           | {k: int(v) for k, v in dict(over.get("class_size", {})).items()}),
        max_size=_frozen({k: int(ms[k]) for k in ("primary", "junior", "nine_year", "teaching_point")}
                         | {k: int(v) for k, v in dict(over.get("max_size", {})).items()}),
        teacher_ratio=_frozen({k: float(tr[k]) for k in ("primary", "junior")}
                              | {k: float(v) for k, v in dict(over.get("teacher_ratio", {})).items()}),
        bus_seats=int(over.get("bus_seats", c["bus_seats"])),
        bus_trips=int(over.get("bus_trips", c["bus_trips_morning"])),
        force=_frozen(force),
        max_closures=over.get("max_closures"),
        allow_new=bool(over.get("allow_new", True)),
        costs=_frozen(cost),
        expansion_penalty_minutes=float(over.get("expansion_penalty_minutes", c["expansion_penalty_minutes"])),
        travel_weight=float(over.get("travel_weight", c["travel_weight_wan_per_pupil_minute"])),
        time_limit=float(over.get("time_limit", c["time_limit_seconds"])),
    )
    _check(rules)
    return rules


def _opt(over: Mapping[str, Any], key: str, default: Any) -> float | None:
    if key in over:
        return float(over[key])
    return None if default is None else float(default)


def _boarding_bands(c: Mapping[str, Any]) -> tuple[str, ...]:
    """Bands whose grades the standards allow to board."""
    allowed = {int(g) for g in (*c.get("boarding_grades_primary", ()), *c.get("boarding_grades_junior", ()))}
    return tuple(b for b, spec in BANDS.items() if set(spec["grades"]) <= allowed)  # type: ignore[arg-type]


def _check(r: Rules) -> None:
    def bad(key: str, why: str) -> SchemaError:
        return SchemaError(f"consolidation rule {key} {why}", column=key, fix="correct the value in the scenario")

    if not r.bus_minutes > 0:
        raise bad("bus_minutes", "must be > 0 minutes")
    if any(not v > 0 for v in r.day_limit_minutes.values()):
        raise bad("day_limit_minutes", "must be > 0 minutes")
    if any(v <= 0 for v in r.class_size.values()):
        raise bad("class_size", "must be > 0 pupils per class")
    if any(v <= 0 for v in r.max_size.values()):
        raise bad("max_size", "must be > 0 pupils")
    if any(v <= 0 for v in r.teacher_ratio.values()):
        raise bad("teacher_ratio", "must be > 0 pupils per teacher")
    if r.bus_capacity <= 0:
        raise bad("bus_seats", "and bus_trips must be > 0")
    if r.min_enrolment < 0:
        raise bad("min_enrolment", "must be ≥ 0")
    if "lower" in r.boarding_bands:
        raise bad("boarding_bands", "cannot include grades 1–3 (国办发〔2018〕27号: no boarding)")
    if any(v < 0 for v in r.costs.values()):
        raise bad("costs", "must be ≥ 0")
