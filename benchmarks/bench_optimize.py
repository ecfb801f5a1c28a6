"""Benchmark of schoolplan.optimize against published optima and an spopt baseline.

Every solve runs in its own subprocess so that its peak memory (``ru_maxrss`` of
that process: interpreter + numpy/pandas + model + HiGHS) can be reported.

Instances
---------
* OR-Library pmed1–20 (p-median), cap41–94 (CFLP, splitting allowed) and
  Lorena–Senne SJC1–2 (single-source capacitated p-median), read from
  ``tests/data/benchmarks``;
* ``rand-pmed``: 2,000 clients x 300 sites, p = 100, uniform points in a
  10 km square (seed 0), cost = Euclidean distance;
* ``rand-cpmp``: 1,000 x 100, p = 20, demand 1–20 per client (seed 1), every
  site's capacity 1.25 x average load, objective = demand x distance,
  single-source;
* ``rand-cpmp-tight``: the same points with mixed site sizes (1.0/1.5/2.0 x
  average load) — capacities bind and the single-source model is much harder.

Baseline: spopt's ``PMedian`` (PuLP + CBC) on the random instances (``--baseline-all``:
also pmed1–20; spopt has no CFLP and weights its capacitated model by demand, so
cap/SJC have no baseline), run with the
interpreter named by ``SPOPT_PYTHON`` (default ``/tmp/spoptvenv/bin/python``, or
this interpreter when spopt is importable), with a timeout (``SPOPT_TIMEOUT``,
default 300 s). It prints "skipped" when spopt is not available.

Usage::

    python benchmarks/bench_optimize.py            # everything, writes RESULTS_optimize.md
    python benchmarks/bench_optimize.py --quick    # a few instances, no baseline
    python benchmarks/bench_optimize.py --no-baseline --only pmed16 rand-pmed
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "benchmarks"
RESULTS = Path(__file__).resolve().parent / "RESULTS_optimize.md"
TIME_LIMIT = 120.0  # seconds per instance for our solver


# ------------------------------------------------------------------ instances


def random_pmed():
    import numpy as np
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(0)
    clients = rng.random((2000, 2)) * 10_000
    sites = rng.random((300, 2)) * 10_000
    return {"cost": cdist(clients, sites), "p": 100, "weights": np.ones(2000)}


def random_cpmp(tight: bool = False):
    import numpy as np
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(1)
    n, m, p = 1000, 100, 20
    clients = rng.random((n, 2)) * 10_000
    sites = rng.random((m, 2)) * 10_000
    demand = rng.integers(1, 21, n).astype(float)
    sizes = rng.choice([1.0, 1.5, 2.0], m)
    if not tight:
        sizes = np.full(m, 1.25)
    capacity = np.ceil(sizes * demand.sum() / p)
    return {
        "cost": cdist(clients, sites),
        "p": p,
        "weights": demand,
        "demand": demand,
        "capacity": capacity,
    }


def instance_list() -> list[dict]:
    from schoolplan.benchmarks_io import read_optima

    out: list[dict] = []
    pmed = read_optima(DATA / "orlib_pmed" / "pmed_optima.csv", "optimum")
    out += [{"name": k, "kind": "pmed", "known": v} for k, v in pmed.items()]
    cap = read_optima(DATA / "orlib_cap" / "cap_optima.csv", "optimum")
    out += [{"name": k, "kind": "cap", "known": v} for k, v in cap.items()]
    sjc = read_optima(DATA / "lorena_senne_cpmp" / "cpmp_best_known.csv", "best_known_cpmp")
    out += [{"name": k, "kind": "sjc", "known": v} for k, v in sjc.items()]
    out += [
        {"name": "rand-pmed", "kind": "rand-pmed", "known": None},
        {"name": "rand-cpmp", "kind": "rand-cpmp", "known": None},
        {"name": "rand-cpmp-tight", "kind": "rand-cpmp-tight", "known": None},
    ]
    return out


def load(spec: dict) -> dict:
    """Arrays of one instance (shared by our child and the spopt child)."""
    from schoolplan import benchmarks_io as bio

    kind, name = spec["kind"], spec["name"]
    if kind == "pmed":
        inst = bio.read_pmed(DATA / "orlib_pmed" / f"{name}.txt")
        return {"cost": inst.cost, "p": inst.p}
    if kind == "cap":
        inst = bio.read_cap(DATA / "orlib_cap" / f"{name}.txt")
        return {
            "cost": inst.cost,
            "fixed_cost": inst.fixed_cost,
            "demand": inst.demand,
            "capacity": inst.capacity,
        }
    if kind == "sjc":
        inst = bio.read_sjc(DATA / "lorena_senne_cpmp" / f"{name}.dat")
        return {"cost": inst.cost, "p": inst.p, "demand": inst.demand, "capacity": inst.capacity}
    if kind == "rand-pmed":
        return random_pmed()
    return random_cpmp(tight=kind == "rand-cpmp-tight")


def size_of(spec: dict, arrays: dict) -> str:
    n, m = arrays["cost"].shape
    p = arrays.get("p")
    return f"{n}x{m}" + (f", p={p}" if p is not None else "")


# ------------------------------------------------------------------ children


def run_ours(spec: dict) -> dict:
    """Child process: solve one instance with schoolplan.optimize."""
    import resource

    from schoolplan import optimize as opt

    a = load(spec)
    kind = spec["kind"]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    if kind in ("pmed", "rand-pmed"):
        r = opt.solve_p_median(a["cost"], a["p"], time_limit=TIME_LIMIT)
    elif kind == "cap":
        r = opt.solve_cflp(
            a["cost"], a["fixed_cost"], a["demand"], a["capacity"], time_limit=TIME_LIMIT
        )
    elif kind == "sjc":
        r = opt.solve_capacitated_p_median(
            a["cost"], a["p"], a["demand"], a["capacity"], time_limit=TIME_LIMIT
        )
    else:
        r = opt.solve_capacitated_p_median(
            a["cost"],
            a["p"],
            a["demand"],
            a["capacity"],
            weights=a["weights"],
            time_limit=TIME_LIMIT,
        )
    seconds = time.perf_counter() - t0
    return {
        "objective": r.objective,
        "status": r.status,
        "gap": r.gap,
        "seconds": seconds,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "base_mb": rss_before / 1024,
        "size": size_of(spec, a),
    }


SPOPT_CHILD = r"""
import json, resource, sys, time
import numpy as np
import pulp
from spopt.locate import PMedian
a = np.load(sys.argv[1])
t0 = time.perf_counter()
kw = {}
if "capacity" in a.files:
    kw["facility_capacities"] = a["capacity"]
model = PMedian.from_cost_matrix(a["cost"], a["weights"], int(a["p"]), **kw)
model = model.solve(pulp.PULP_CBC_CMD(msg=False))
seconds = time.perf_counter() - t0
status = pulp.LpStatus[model.problem.status]
obj = pulp.value(model.problem.objective)
# CBC runs as a child process of this one: count its peak too
peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
           resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(json.dumps({"objective": obj, "status": status, "seconds": seconds,
                  "peak_mb": peak / 1024}))
"""


def spopt_python() -> str | None:
    env = os.environ.get("SPOPT_PYTHON")
    if env:
        return env if Path(env).exists() else None
    try:
        import spopt  # noqa: F401

        return sys.executable
    except ImportError:
        default = Path("/tmp/spoptvenv/bin/python")
        return str(default) if default.exists() else None


def run_spopt(spec: dict, timeout: float) -> dict:
    import numpy as np

    py = spopt_python()
    if py is None:
        return {"status": "skipped"}
    a = load(spec)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "inst.npz"
        arrays = {k: v for k, v in a.items() if k in ("cost", "weights", "p", "capacity")}
        arrays.setdefault("weights", np.ones(a["cost"].shape[0]))
        np.savez(path, **arrays)
        # own process group, so that a timeout also ends the CBC process it starts
        proc = subprocess.Popen(
            [py, "-c", SPOPT_CHILD, str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return {"status": f"> {timeout:.0f} s timeout"}
    if proc.returncode != 0:
        if "No module named" in err:
            return {"status": "skipped"}
        return {"status": "error: " + err.strip().splitlines()[-1][:80]}
    return json.loads(out.strip().splitlines()[-1])


def child(spec: dict) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT * 3 + 60,
    )
    if proc.returncode != 0:
        return {"status": "error: " + proc.stderr.strip().splitlines()[-1][:120]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ report


def fmt_obj(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:,.2f}" if abs(v - round(v)) > 1e-6 else f"{v:,.0f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="a few instances, no baseline")
    ap.add_argument("--no-baseline", action="store_true", help="do not run spopt")
    ap.add_argument("--only", nargs="*", help="instance names to run")
    ap.add_argument(
        "--baseline-all",
        action="store_true",
        help="also run spopt on the OR-Library p-median instances (slow)",
    )
    ap.add_argument("--out", default=str(RESULTS), help="markdown file to write")
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(run_ours(json.loads(args.child))))
        return 0

    load_start = os.getloadavg()[0]
    specs = instance_list()
    if args.quick:
        keep = {"pmed1", "pmed15", "cap41", "cap131", "cap94", "rand-pmed", "rand-cpmp"}
        specs = [s for s in specs if s["name"] in keep]
    if args.only:
        specs = [s for s in specs if s["name"] in set(args.only)]
    baseline = not (args.quick or args.no_baseline)
    timeout = float(os.environ.get("SPOPT_TIMEOUT", "300"))
    has_spopt = spopt_python() is not None

    header = (
        "| instance | size | known optimum | objective | status | seconds | peak RSS MB "
        "| spopt+CBC objective | spopt seconds | spopt peak MB |"
    )
    lines = [header, "|" + "---|" * 10]
    print(header, flush=True)
    for spec in specs:
        ours = child(spec)
        base: dict = {"status": "—"}
        if spec["kind"].startswith("rand") or (args.baseline_all and spec["kind"] == "pmed"):
            base = run_spopt(spec, timeout) if baseline and has_spopt else {"status": "skipped"}
        ok = ""
        if spec["known"] is not None and "objective" in ours:
            tol = 0.01 if spec["kind"] == "sjc" else 1e-3
            ok = " ✓" if abs(ours["objective"] - spec["known"]) <= tol else " ✗"
        row = [
            spec["name"],
            ours.get("size", ""),
            fmt_obj(spec["known"]),
            fmt_obj(ours.get("objective")) + ok,
            ours.get("status", ""),
            f"{ours['seconds']:.2f}" if "seconds" in ours else "",
            f"{ours['peak_mb']:.0f}" if "peak_mb" in ours else "",
            fmt_obj(base.get("objective")) if "objective" in base else base["status"],
            f"{base['seconds']:.1f}" if "seconds" in base else "",
            f"{base['peak_mb']:.0f}" if "peak_mb" in base else "",
        ]
        line = "| " + " | ".join(row) + " |"
        lines.append(line)
        print(line, flush=True)

    note = [
        "",
        f"Machine: {os.cpu_count()} cores shared with other jobs (load average "
        f"{load_start:.1f} at start, {os.getloadavg()[0]:.1f} at end). Our solver: schoolplan.optimize "
        f"(HiGHS via highspy), time limit {TIME_LIMIT:.0f} s per instance; seconds = the "
        "solve_* call (validation, model building, all HiGHS rounds). Peak RSS = whole "
        "child process (Python + numpy/pandas ~100 MB before solving). spopt = "
        "PMedian.from_cost_matrix + PuLP/CBC, build + solve, peak over the Python "
        "process and the CBC child.",
    ]
    if args.out and not args.quick and not args.only:
        Path(args.out).write_text(
            "# schoolplan.optimize benchmark\n\n" + "\n".join(lines + note) + "\n",
            encoding="utf-8",
        )
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
