"""Exact facility-location models solved with HiGHS.

The planning code asks five questions of a cost matrix (one row per client, e.g. a
village's pupils, one column per candidate site, e.g. a school):

* :func:`solve_p_median` — open exactly ``p`` sites, minimise total (weighted) travel;
* :func:`solve_capacitated_p_median` — the same with seat capacities;
* :func:`solve_cflp` — capacitated facility location with opening costs, free count;
* :func:`solve_set_cover` — the fewest (cheapest) sites so that every client is
  within a radius;
* :func:`solve_max_cover` — ``p`` sites covering the most (weighted) clients.

Models are built directly as sparse numpy arrays and passed to HiGHS through
the internal builder :class:`schoolplan._highs.HighsModel`; HiGHS prints
nothing, its log is kept on the result (``result.log``).

Cost matrix convention
----------------------
``cost[j, i]`` is the cost of serving **all** of client ``j``'s demand from facility
``i`` (a fractional assignment pays that fraction); ``weights`` multiplies rows.
``cost`` may be

* a dense array: NaN or ``+inf`` means the pair is not allowed;
* a :class:`pandas.DataFrame`: index = client ids, columns = facility ids; results
  use these ids;
* a :mod:`scipy.sparse` matrix: an entry that is not stored means the pair is not
  allowed (an explicitly stored zero is an allowed pair of cost 0).

Candidate lists
---------------
The p-median, capacitated p-median and CFLP give each client variables only for
its ``K_j`` cheapest allowed facilities, plus a *tail* whose cost is the next
cheaper cost beyond the list and which uses no capacity. Every client served
from outside its list costs at least that much, so the restricted model is a
**relaxation** of the full one: its bound is valid. When its solution relies on
no tail it is optimal for the full model; otherwise ``K_j`` is doubled for the
clients that used their tail and the model is solved again.

How each model is solved
------------------------
* p-median (:mod:`schoolplan.optimize._pmedian`): fast-interchange start, the
  radius or assignment formulation chosen by the data, reduction by reduced
  costs while it shrinks, branch and cut with an objective cutoff.
* capacitated models (:mod:`schoolplan.optimize._capacitated`): capacitated
  swap-search start, LP and reduced-cost reduction; for the single-source
  capacitated p-median a Lagrangian bound with 0-1 knapsacks whose tests
  close sites and fix pairs, and a RINS sub-MIP; branch and cut with an
  objective cutoff, restarted on the smaller model when a new incumbent
  lets the reduction close a tenth of the free sites.
* cover models (:mod:`schoolplan.optimize._cover`): one MILP each.

Time limit and statuses
-----------------------
Every call has a time limit (default :data:`DEFAULT_TIME_LIMIT` = 600 s;
``time_limit=math.inf`` for none). Statuses: ``"optimal"`` (proven within
``mip_rel_gap``, default ``1e-6``), ``"gap_limit"`` (stopped at a looser user
``mip_rel_gap``), ``"time_limit"``, ``"iteration_limit"``, ``"solution_limit"``,
``"interrupted"``. Anything but ``"optimal"`` comes with the best solution
found, its ``gap`` and ``bound``, and ``result.message`` says so plainly.
Infeasible models raise :class:`~schoolplan.errors.InfeasibleError`; malformed
ones :class:`~schoolplan.errors.OptimizationError`.
"""

from schoolplan.optimize._capacitated import solve_capacitated_p_median, solve_cflp
from schoolplan.optimize._cover import solve_max_cover, solve_set_cover
from schoolplan.optimize._data import DEFAULT_TIME_LIMIT, OPTIMAL_GAP
from schoolplan.optimize._pmedian import solve_p_median
from schoolplan.optimize._result import LocationResult

__all__ = [
    "DEFAULT_TIME_LIMIT",
    "OPTIMAL_GAP",
    "LocationResult",
    "solve_capacitated_p_median",
    "solve_cflp",
    "solve_max_cover",
    "solve_p_median",
    "solve_set_cover",
]
