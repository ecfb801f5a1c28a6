"""Internal data structures shared by the network modules (documented, public names).

This module is internal to :mod:`schoolplan.network` (its name starts with an
underscore), but the names in it are public to the package's own modules: readers,
graph assembly, snapping and the queries all go through them rather than through
each other's private names.

* :class:`Pieces` — tagged polylines, the common output of every reader.
* :class:`Chains` — the simplified road pieces between routing nodes.
* :class:`Segments` — the snapping index: every kept segment in chain order.
* :func:`warn_caller` — a warning that points at the first caller outside this package.
* :func:`derived` — per-graph memo of data derived lazily from an immutable graph
  (dead-end peeling, adjacency lists, isochrone samples). The graph object itself
  stays frozen; the memo lives beside it and disappears with it.
"""

from __future__ import annotations

import inspect
import os
import threading
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import CRS

__all__ = ["F64", "I64", "Chains", "Pieces", "Segments", "derived", "warn_caller"]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

T = TypeVar("T")


@dataclass
class Pieces:
    """Tagged polylines from one source.

    A *piece* is one OSM way, one road-layer line or one graph edge: an ordered run of
    vertices plus its tags. Vertices carry a key when their identity is known (OSM node
    id, graph node) and are matched by coordinates otherwise (road layers, interior
    points of graph-edge geometries).

    Attributes
    ----------
    crs
        CRS of the vertex coordinates.
    ptr
        Piece ``i`` has vertices ``ptr[i]:ptr[i+1]``.
    vx, vy
        Vertex coordinates.
    vkey
        ``>= 0``: identity key of the vertex; ``-1``: match by coordinates.
    tags
        One dict of OSM-style tags per piece (``highway``, ``maxspeed``, ``oneway`` ...).
    label
        Where the pieces came from (for messages).
    unknown_class
        ``"exclude"`` (OSM: unlisted classes are not roads) or ``"default"`` (road layers).
    minutes
        Explicit travel time per piece (graph inputs with a weight), or None.
    direction
        Per piece: 0 from the tags, 1 forward only, 2 both ways; None: all from tags.
    node_ids
        External id per key (graph inputs), or None (the key is the id).
    n_missing_ways
        OSM ways that referenced nodes missing from the extract.
    """

    crs: CRS
    ptr: I64
    vx: F64
    vy: F64
    vkey: I64
    tags: list[dict[str, Any]]
    label: str
    unknown_class: str = "exclude"
    minutes: F64 | None = None
    direction: NDArray[np.int8] | None = None
    node_ids: I64 | None = None
    n_missing_ways: int = 0

    @property
    def n(self) -> int:
        """Number of pieces."""
        return len(self.tags)


@dataclass(frozen=True, eq=False)
class Chains:
    """Simplified road pieces between routing nodes.

    Chain ``c`` runs from routing node ``a[c]`` to routing node ``b[c]``; ``t_fwd``
    (a → b) and ``t_bwd`` (b → a) are its total minutes, ``inf`` when that direction
    is not allowed; ``length_m`` its length; ``n_seg`` its number of segments;
    ``fwd_edge`` / ``bwd_edge`` the row of ``RoadGraph.edges`` for each direction
    (−1 when not allowed).
    """

    a: I64
    b: I64
    t_fwd: F64
    t_bwd: F64
    length_m: F64
    n_seg: I64
    fwd_edge: I64
    bwd_edge: I64

    @property
    def n(self) -> int:
        """Number of chains."""
        return int(self.a.size)


@dataclass(frozen=True, eq=False)
class Segments:
    """Snapping index: the kept segments in chain order and chain direction.

    For segment ``s`` on chain ``chain[s]`` at position ``pos[s]``: start ``(x0, y0)``,
    end ``(x1, y1)``; ``f0`` minutes from the chain start to the segment start
    travelling forward, ``tf`` the segment's forward minutes; ``b0`` / ``tb`` the same
    travelling backwards (towards the chain start); ``l0`` / ``length_m`` metres.
    ``tree`` indexes the segments, ``dropped_tree`` the segments left out of routing
    (None when there are none).
    """

    x0: F64
    y0: F64
    x1: F64
    y1: F64
    chain: I64
    pos: I64
    f0: F64
    tf: F64
    b0: F64
    tb: F64
    l0: F64
    length_m: F64
    dropped_tree: shapely.STRtree | None

    @property
    def n(self) -> int:
        """Number of segments."""
        return int(self.x0.size)


_MEMO: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
_MEMO_LOCK = threading.Lock()


def derived(graph: Any, key: str, make: Callable[[], T]) -> T:
    """Data derived from an immutable graph, computed once per graph object.

    Parameters
    ----------
    graph
        The owner (a :class:`~schoolplan.network.graph.RoadGraph`); held weakly, so
        the memo goes when the graph goes. A pickled copy starts with an empty memo.
    key
        Name of the derived item (e.g. ``"peel"``, ``"samples_125.000"``).
    make
        Computes the item on first use.

    Returns
    -------
    The memoised item.
    """
    with _MEMO_LOCK:
        store = _MEMO.get(graph)
        if store is None:
            store = {}
            _MEMO[graph] = store
        if key in store:
            return store[key]  # type: ignore[no-any-return]
    value = make()
    with _MEMO_LOCK:
        return store.setdefault(key, value)  # type: ignore[no-any-return]


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn_caller(message: str, category: type[Warning]) -> None:
    """Emit a warning attributed to the first stack frame outside :mod:`schoolplan.network`.

    The user sees the line of their own code (or of the schoolplan module) that called
    the network function, however deep inside the package the warning arose.
    """
    level = 1
    here = inspect.currentframe()
    frame = here.f_back if here is not None else None
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level + 1)
