"""Readers for the published location-problem benchmark instances.

Small, dependency-light readers (numpy/scipy in, numpy out) shared by the test
suite (``tests/conftest.py`` puts this folder on ``sys.path``) and
``benchmarks/bench_optimize.py``. Not part of the schoolplan package: no package
code depends on it.

* :func:`read_pmed` — OR-Library uncapacitated p-median (Beasley 1990);
* :func:`read_cap` — OR-Library capacitated warehouse location (Beasley 1988);
* :func:`read_sjc` — Lorena & Senne (2004) capacitated p-median (SJC1–4);
* :func:`read_optima` — ``instance -> value`` from the optima tables in
  ``tests/data/benchmarks``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.sparse import csgraph

__all__ = [
    "CapInstance",
    "PMedInstance",
    "SJCInstance",
    "read_cap",
    "read_optima",
    "read_pmed",
    "read_sjc",
]


@dataclass(frozen=True, eq=False)
class PMedInstance:
    """An uncapacitated p-median instance: ``cost`` is n x n shortest-path lengths."""

    name: str
    cost: np.ndarray
    p: int


@dataclass(frozen=True, eq=False)
class CapInstance:
    """A capacitated warehouse location instance.

    ``cost[j, i]`` is the cost of allocating *all* of customer ``j``'s demand to
    warehouse ``i`` (shape customers x warehouses).
    """

    name: str
    cost: np.ndarray
    fixed_cost: np.ndarray
    capacity: np.ndarray
    demand: np.ndarray


@dataclass(frozen=True, eq=False)
class SJCInstance:
    """A Lorena–Senne capacitated p-median instance (every node is client and site)."""

    name: str
    cost: np.ndarray
    p: int
    capacity: np.ndarray
    demand: np.ndarray
    xy: np.ndarray


def _tokens(path: str | Path) -> list[str]:
    return Path(path).read_text(encoding="ascii").split()


def read_pmed(path: str | Path) -> PMedInstance:
    """Read an OR-Library ``pmedX.txt`` file.

    Format: ``n m p`` then ``m`` lines ``i j cost`` (1-based vertices) of an
    undirected graph. The cost matrix is all-pairs shortest-path lengths; when
    an edge appears more than once (either direction) the last one read wins,
    as specified by OR-Library.

    Parameters
    ----------
    path
        Path to the instance file.

    Returns
    -------
    PMedInstance
        ``cost`` (n x n, float64) and ``p``.
    """
    tok = _tokens(path)
    n, m, p = int(tok[0]), int(tok[1]), int(tok[2])
    e = np.array(tok[3 : 3 + 3 * m], dtype=np.float64).reshape(m, 3)
    i = e[:, 0].astype(np.int64) - 1
    j = e[:, 1].astype(np.int64) - 1
    c = e[:, 2]
    a, b = np.minimum(i, j), np.maximum(i, j)
    # keep the last occurrence of every undirected edge
    _, first_in_reversed = np.unique((a * n + b)[::-1], return_index=True)
    last = m - 1 - first_in_reversed
    a, b, c = a[last], b[last], c[last]
    w = np.full((n, n), np.inf)
    w[a, b] = c
    w[b, a] = c
    np.fill_diagonal(w, np.inf)
    graph = csgraph.csgraph_from_dense(w, null_value=np.inf)
    dist = csgraph.shortest_path(graph, method="D", directed=False)
    return PMedInstance(Path(path).stem, dist, p)


def read_cap(path: str | Path, *, capacity: float | None = None) -> CapInstance:
    """Read an OR-Library capacitated warehouse location file (``capXX.txt``).

    Format: ``m n`` (warehouses, customers); ``m`` lines ``capacity fixed_cost``;
    then for each customer its demand followed by ``m`` allocation costs (the cost
    of allocating all of its demand to each warehouse), wrapped over lines.
    In the large capa/capb/capc files the capacity is the literal word
    ``capacity``, to be replaced by a value given with ``capacity=``.

    Parameters
    ----------
    path
        Path to the instance file.
    capacity
        Capacity to use where the file says ``capacity`` (also overrides
        numeric capacities when given).

    Returns
    -------
    CapInstance
        ``cost`` (customers x warehouses), ``fixed_cost``, ``capacity``,
        ``demand``.
    """
    tok = _tokens(path)
    m, n = int(tok[0]), int(tok[1])
    k = 2
    caps = np.empty(m)
    fixed = np.empty(m)
    for i in range(m):
        word, f = tok[k], tok[k + 1]
        k += 2
        if capacity is not None:
            caps[i] = capacity
        elif word.lower() == "capacity":
            raise ValueError(
                f"{path}: capacities are given as the word 'capacity'; pass capacity=..."
            )
        else:
            caps[i] = float(word)
        fixed[i] = float(f)
    body = np.array(tok[k : k + n * (m + 1)], dtype=np.float64)
    if body.size != n * (m + 1):
        raise ValueError(f"{path}: expected {n * (m + 1)} numbers for customers, got {body.size}")
    body = body.reshape(n, m + 1)
    return CapInstance(Path(path).stem, body[:, 1:].copy(), fixed, caps, body[:, 0].copy())


def read_sjc(path: str | Path) -> SJCInstance:
    """Read a Lorena–Senne ``SJCx.dat`` capacitated p-median instance.

    Format: ``n p`` then per node ``x y capacity demand``. Every node is both a
    client and a candidate site; cost = Euclidean distance (not rounded).

    Parameters
    ----------
    path
        Path to the instance file.

    Returns
    -------
    SJCInstance
        ``cost`` (n x n), ``p``, ``capacity``, ``demand``, ``xy``.
    """
    tok = _tokens(path)
    n, p = int(tok[0]), int(tok[1])
    body = np.array(tok[2 : 2 + 4 * n], dtype=np.float64).reshape(n, 4)
    xy = body[:, :2]
    diff = xy[:, None, :] - xy[None, :, :]
    cost = np.sqrt((diff**2).sum(axis=2))
    return SJCInstance(Path(path).stem, cost, p, body[:, 2].copy(), body[:, 3].copy(), xy)


def read_optima(path: str | Path, column: str) -> dict[str, float]:
    """Read ``instance -> float(column)`` from an optima CSV table."""
    with Path(path).open(newline="", encoding="utf-8") as fh:
        return {row["instance"]: float(row[column]) for row in csv.DictReader(fh)}
