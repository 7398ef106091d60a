"""Tracer diffusion tensor D(T) of a single adatom on a surface's periodic hop network.

The adatom hops between the minima of one surface cell and their periodic images: a continuous-time Markov chain
on the sites of the cell (the "quotient" chain) that also carries a lattice displacement with each hop. Rates are
harmonic transition-state theory, ``k = nu * exp(-(E_saddle - E_start) / k_B T)``, from absolute energies (eV) as
:mod:`seiscreen.surfaces.percolation` takes them. Everything here is exact linear algebra on the cell's sites
(:func:`tracer_diffusion_tensor`); :func:`kmc_diffusion_tensor` samples the same chain as a check, and
:func:`arrhenius` fits ``ln D`` against ``1/T``.

The formula (martingale decomposition, the "corrector" of periodic homogenisation). Let ``X(t)`` be the unwrapped
position, ``Y(t)`` the site in the cell, hop ``h: i -> j`` of rate ``k_h`` and displacement
``v_h = r_j + n_h . cell - r_i``. With ``pi`` the stationary distribution (``pi Q = 0``), the mean drift
``V = sum_i pi_i sum_h k_h v_h`` (zero under detailed balance) and the corrector ``chi`` (one in-plane vector per
site) solving, for every site ``i``,

    sum_{h from i} k_h (v_h + chi_j - chi_i) = V,

the generator applied to ``f(x, y) = x + chi(y)`` is the constant ``V``, so ``M(t) = X(t) + chi(Y(t)) - V t`` is a
martingale. Its predictable quadratic variation grows at rate ``sum_{h from Y} k_h w_h w_h^T`` with
``w_h = v_h + chi_j - chi_i``; by the ergodic theorem and the martingale central limit theorem, and since ``chi`` is
bounded, ``<(X - V t)(X - V t)^T> = 2 D t + O(1)`` with

    D = 1/2 sum_i pi_i sum_{h from i} k_h w_h w_h^T.

(Started from ``pi``, ``Cov M(t) = 2 D t`` exactly.) The corrector removes the part of each hop that the hops
after it undo on average: a zigzag channel steps sideways at every hop but gets nowhere sideways. Under detailed
balance the corrector minimises the quadratic form, so the bare ``1/2 sum pi k v v^T`` is only an upper bound.
References: T. Komorowski, C. Landim, S. Olla, *Fluctuations in Markov Processes: Time Symmetry and Martingale
Approximation* (Springer, 2012) (the martingale approximation and its corrector); D. R. Trinkle, Philos. Mag. 96,
2714 (2016), doi:10.1080/14786435.2016.1212175 (the same tensor written as a bare term plus a bias correction,
for interstitial networks in crystals). The tests check it against closed forms, against kinetic
Monte Carlo and against the curvature of the Perron eigenvalue of the Bloch-tilted generator
(``lambda(theta) = theta . V + theta^T D theta + O(theta^3)``).

Numerics: rates at 250 K span many decades (0.8 eV against 0.1 eV is 1e14). ``pi`` comes from the
Grassmann-Taksar-Heyman elimination (W. K. Grassmann, M. I. Taksar, D. P. Heyman, Oper. Res. 33, 1107 (1985)),
which never subtracts, and the corrector from the same elimination order (each eliminated site's equation
substituted into the others, the censored chain's rates again sums of positive terms).

Assumptions: one adatom (no adatom-adatom interaction, so tracer = chemical diffusion); harmonic TST rates with a
temperature-independent prefactor; the site chain is Markov (no recrossing or long flights beyond the listed hops:
each hop thermalises in its end minimum). The adatom starts in the lowest minimum (as the percolation barrier
does): sites it cannot reach are left out, and a lowest minimum whose component is finite in a direction gives a
tensor without that direction (rank 1 for channels, 0 when it is trapped).

Units: positions and cell in Å, energies in eV, prefactors in Hz (s^-1), temperatures in K; ``D`` in cm^2/s
(1 Å^2 = 1e-16 cm^2), drift in cm/s. ``<(r - V t)(r - V t)^T> = 2 D t`` per tensor element, and the scalar
``D = tr(D) / 2``, so that ``<|r - V t|^2> = 4 D t`` on the plane.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from seiscreen.errors import SeiscreenError
from seiscreen.surfaces.percolation import GraphEdge

K_B = 8.617333262e-5  # eV/K (CODATA 2018)
DEFAULT_PREFACTOR = 1e13  # Hz: the customary attempt frequency when no vibrational analysis gives one
ANGSTROM2_TO_CM2 = 1e-16
ANGSTROM_TO_CM = 1e-8
DEFAULT_TEMPERATURES = (250.0, 275.0, 300.0, 325.0, 350.0, 375.0, 400.0)  # K
_SADDLE_TOLERANCE = 1e-6  # eV: a saddle this far below an end is that end (rounding); further is an error
_LOG_RANGE = 600.0  # largest spread of ln(rate) that double precision holds with room (e^-600 ~ 1e-261)


@dataclass(frozen=True)
class RatedHop(GraphEdge):
    """One hop of the periodic graph with its attempt prefactors: a :class:`GraphEdge` (site ``i`` in cell 0 to
    site ``j`` in cell ``image``, absolute ``saddle`` in eV, hop class ``label``), so a list of hops is also a
    graph for :func:`~seiscreen.surfaces.percolation.percolation_barrier`.

    ``forward``: prefactor of i -> j in Hz; ``backward``: of j -> i, or None for a directed hop (i -> j only).
    List every hop of the periodic graph once (each symmetry copy, as the hop network's edges are), not once per
    direction: an undirected hop is both directions."""

    forward: float = DEFAULT_PREFACTOR
    backward: float | None = DEFAULT_PREFACTOR


@dataclass(frozen=True, eq=False)
class DiffusionNetwork:
    """A surface cell's sites and hops, checked on construction (:class:`~seiscreen.errors.SeiscreenError`).

    ``cell``: (2, 2), rows the in-plane lattice vectors in Å; ``positions``: (n, 2) Cartesian in-plane positions of
    the sites in Å; ``energies``: (n,) absolute site energies in eV; ``hops``: every hop of the graph.
    The displacement of hop i -> j is ``positions[j] + image @ cell - positions[i]``."""

    cell: np.ndarray
    positions: np.ndarray
    energies: np.ndarray
    hops: tuple[RatedHop, ...]

    def __post_init__(self) -> None:
        cell = np.array(self.cell, dtype=float)
        positions = np.array(self.positions, dtype=float).reshape(-1, 2) if len(self.positions) else np.zeros((0, 2))
        energies = np.array(self.energies, dtype=float).reshape(-1)
        if cell.shape != (2, 2) or not np.isfinite(cell).all() or abs(np.linalg.det(cell)) < 1e-8:
            raise SeiscreenError(f"the cell must be two independent in-plane vectors (2x2, Å), got {cell.tolist()}")
        if len(energies) == 0 or len(positions) != len(energies):
            raise SeiscreenError(f"give one position and one energy per site: {len(positions)} positions, "
                                 f"{len(energies)} energies")
        if not (np.isfinite(positions).all() and np.isfinite(energies).all()):
            raise SeiscreenError("site positions and energies must be finite numbers")
        hops = tuple(self.hops)
        for hop in hops:
            _check_hop(hop, energies)
        object.__setattr__(self, "cell", cell)
        object.__setattr__(self, "positions", positions)
        object.__setattr__(self, "energies", energies)
        object.__setattr__(self, "hops", hops)

    def displacement(self, hop: GraphEdge) -> np.ndarray:
        """Hop vector i -> j in Å: ``positions[j] + image @ cell - positions[i]``."""
        return self.positions[hop.j] + np.asarray(hop.image, float) @ self.cell - self.positions[hop.i]


def _check_hop(hop: RatedHop, energies: np.ndarray) -> None:
    n = len(energies)
    name = f"hop {hop.label or (hop.i, hop.j, tuple(hop.image))}"
    if not isinstance(hop, RatedHop):
        raise SeiscreenError(f"{name}: give a RatedHop (or build the network with network_from_graph)")
    for end in (hop.i, hop.j):
        if not isinstance(end, int | np.integer) or not 0 <= end < n:
            raise SeiscreenError(f"{name} names site {end}, but the network has sites 0..{n - 1}")
    if len(hop.image) != 2 or any(int(c) != c for c in hop.image):
        raise SeiscreenError(f"{name}: image must be two integers (lattice translations), got {hop.image}")
    if hop.i == hop.j and not any(hop.image):
        raise SeiscreenError(f"{name} goes from site {hop.i} to itself in the same cell: it moves nothing")
    if not np.isfinite(hop.saddle):
        raise SeiscreenError(f"{name}: the saddle energy must be a finite number, got {hop.saddle}")
    higher = max(energies[hop.i], energies[hop.j])
    if hop.saddle < higher - _SADDLE_TOLERANCE:
        raise SeiscreenError(f"{name}: saddle {hop.saddle:.6f} eV lies below its higher end ({higher:.6f} eV); "
                             "a barrierless hop has its saddle at its higher end")
    for direction, nu in (("forward", hop.forward), ("backward", hop.backward)):
        if direction == "backward" and nu is None:
            continue
        if nu is None or not np.isfinite(nu) or nu <= 0:
            raise SeiscreenError(f"{name}: the {direction} prefactor must be a positive number of Hz, got {nu} "
                                 "(leave a hop out rather than give it 0; backward=None makes it one-way)")


def network_from_graph(node_energies: Sequence[float], edges: Sequence[GraphEdge], positions: np.ndarray,
                       cell: np.ndarray,
                       prefactor: float | Callable[[GraphEdge, bool], float] = DEFAULT_PREFACTOR
                       ) -> DiffusionNetwork:
    """A network from the percolation module's graph: the same ``node_energies`` and ``edges`` as
    :func:`~seiscreen.surfaces.percolation.percolation_barrier` (each undirected edge once, as
    :func:`seiscreen.hopgraph.graph_edges` gives them), plus the nodes' Cartesian in-plane ``positions`` (Å; the
    hop network's fractional positions times its lattice) and the ``cell`` (rows, Å).

    ``prefactor``: Hz for every direction (default 1e13, the customary attempt frequency, when no vibrational
    analysis gives one), or a function ``(edge, forward) -> Hz`` with ``forward`` True for i -> j as the edge is
    written (e.g. a lookup by ``edge.label`` and the minimum at the departing end)."""
    def nu(edge: GraphEdge, forward: bool) -> float:
        return float(prefactor(edge, forward)) if callable(prefactor) else float(prefactor)

    hops = tuple(RatedHop(e.i, e.j, tuple(e.image), float(e.saddle), e.label, nu(e, True), nu(e, False)) for e in edges)
    return DiffusionNetwork(np.asarray(cell, float), np.asarray(positions, float), np.asarray(node_energies, float),
                            hops)


@dataclass(frozen=True, eq=False)
class DiffusionTensor:
    """D at one temperature. ``tensor`` (2, 2) in cm^2/s with ``<(r - V t)(r - V t)^T> = 2 D t``; ``drift`` V in cm/s
    (zero with detailed balance); ``occupation``: the stationary probability of each site (0 where the adatom,
    starting in the lowest minimum, never goes); ``rank``: the independent lattice translations its hops reach
    (from the graph, not from the numbers: across a channel the tensor is set to exactly 0)."""

    temperature: float  # K
    tensor: np.ndarray
    drift: np.ndarray
    occupation: np.ndarray
    rank: int  # directions it diffuses along for ever: 2 on a 2D network, 1 in channels, 0 when trapped

    @property
    def scalar(self) -> float:
        """``tr(D) / 2`` in cm^2/s: ``<|r|^2> = 4 D t`` on the plane."""
        return float(np.trace(self.tensor) / 2)

    @property
    def eigenvalues(self) -> np.ndarray:
        """The principal diffusion coefficients, ascending, cm^2/s."""
        return np.linalg.eigvalsh(self.tensor)


@dataclass(frozen=True)
class _Chain:
    """The directed hops out of the sites reachable from the lowest minimum, rates scaled by the fastest."""

    sites: np.ndarray  # indices into the network's sites
    start: np.ndarray  # per directed hop: local index of its start site
    end: np.ndarray  # local index of its end site
    rate: np.ndarray  # rate / scale
    vector: np.ndarray  # (h, 2) Å
    scale: float  # Hz
    n_all: int  # sites of the network
    dimension: int  # independent lattice translations the reachable sites' hops make (0, 1 or 2)
    axis: np.ndarray  # (2,) unit vector of the channel when dimension is 1


def _check_temperature(temperature: float) -> float:
    t = float(temperature)
    if not np.isfinite(t) or t <= 0:
        raise SeiscreenError(f"temperature must be a positive number of kelvin, got {temperature}")
    return t


def _directed(network: DiffusionNetwork, temperature: float) -> _Chain:
    """Both directions of every hop with their rates at ``temperature``, restricted to the sites reachable from
    the lowest minimum (which must all lead back to it)."""
    kt = K_B * _check_temperature(temperature)
    e = network.energies
    start, end, log_rate, vector = [], [], [], []
    for hop in network.hops:
        v = network.displacement(hop)
        directions = [(hop.i, hop.j, hop.forward, v)]
        if hop.backward is not None:
            directions.append((hop.j, hop.i, hop.backward, -v))
        for a, b, nu, d in directions:
            start.append(a)
            end.append(b)
            log_rate.append(np.log(nu) - max(hop.saddle - e[a], 0.0) / kt)
            vector.append(d)
    first = int(np.argmin(e))
    n = len(e)
    start_arr, end_arr = np.array(start, dtype=int), np.array(end, dtype=int)
    reach = _reachable(first, start_arr, end_arr, n)
    back = _reachable(first, end_arr, start_arr, n)
    if not reach <= back:
        stuck = sorted(reach - back)
        raise SeiscreenError(f"sites {stuck} can be reached from the lowest minimum (site {first}) but lead nowhere "
                             "back: a one-way hop traps the adatom; give those hops both directions")
    sites = np.array(sorted(reach), dtype=int)
    local = -np.ones(n, dtype=int)
    local[sites] = np.arange(len(sites))
    keep = local[start_arr] >= 0 if len(start_arr) else np.zeros(0, bool)
    log_rate_arr = np.array(log_rate, float)[keep]
    a, b = local[start_arr[keep]], local[end_arr[keep]]
    vectors = np.array(vector, float).reshape(-1, 2)[keep]
    dimension, axis = _translations(len(sites), a, b, vectors, network.cell)
    if not len(log_rate_arr):
        return _Chain(sites, a, b, np.zeros(0), vectors, 1.0, n, dimension, axis)
    top = float(log_rate_arr.max())
    if top - log_rate_arr.min() > _LOG_RANGE:
        raise SeiscreenError(f"at {temperature} K the hop rates span more than e^{_LOG_RANGE:.0f}: too cold for "
                             "double precision; use a higher temperature")
    return _Chain(sites, a, b, np.exp(log_rate_arr - top), vectors, float(np.exp(top)), n, dimension, axis)


def _translations(m: int, start: np.ndarray, end: np.ndarray, vectors: np.ndarray,
                  cell: np.ndarray) -> tuple[int, np.ndarray]:
    """How many independent lattice translations the hops' loops make (the percolation module's directions at an
    infinite level), and the channel's unit vector when that is one: sites unwrapped along a spanning tree, each
    hop then closes a loop ``u_i + v - u_j``, a lattice vector."""
    unwrapped = np.full((m, 2), np.nan)
    neighbours: list[list[tuple[int, np.ndarray]]] = [[] for _ in range(m)]
    for a, b, v in zip(start, end, vectors, strict=True):
        neighbours[a].append((b, v))
        neighbours[b].append((a, -v))
    if m:
        unwrapped[0], todo = 0.0, [0]
        while todo:
            a = todo.pop()
            for b, v in neighbours[a]:
                if np.isnan(unwrapped[b, 0]):
                    unwrapped[b] = unwrapped[a] + v
                    todo.append(b)
    loops = unwrapped[start] + vectors - unwrapped[end] if len(start) else np.zeros((0, 2))
    lattice = np.rint(loops @ np.linalg.inv(cell)).astype(int)
    lattice = lattice[lattice.any(axis=1)]
    dimension = int(np.linalg.matrix_rank(lattice)) if len(lattice) else 0
    axis = np.zeros(2)
    if dimension == 1:
        axis = lattice[0] @ cell
        axis = axis / np.linalg.norm(axis)
    return dimension, axis


def _reachable(first: int, start: np.ndarray, end: np.ndarray, n: int) -> set[int]:
    neighbours: list[list[int]] = [[] for _ in range(n)]
    for a, b in zip(start.tolist(), end.tolist(), strict=True):
        neighbours[a].append(b)
    seen, todo = {first}, [first]
    while todo:
        for b in neighbours[todo.pop()]:
            if b not in seen:
                seen.add(b)
                todo.append(b)
    return seen


def _stationary_and_corrector(chain: _Chain) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``pi``, the drift ``V`` (Å per scaled time) and the corrector ``chi`` (m, 2) by one elimination pass.

    Eliminating site ``n`` (the last left) censors the chain on the others: their rates become
    ``K'_ab = K_ab + K_an K_nb / s_n`` with ``s_n`` the rate out of ``n`` to the sites still left (GTH); the
    corrector's equation of ``n``, ``sum_b K_nb (chi_b - chi_n) = g_n``, gives ``chi_n`` from the others, and
    substituted into theirs it adds ``K_an g_n / s_n`` to their right-hand sides ``g = V - b`` with the local
    drift ``b_i = sum_h k_h v_h``. Self-loops (a site's own image) cancel in ``chi_j - chi_i`` and are dropped."""
    m = len(chain.sites)
    rates = np.zeros((m, m))
    np.add.at(rates, (chain.start, chain.end), chain.rate)
    np.fill_diagonal(rates, 0.0)
    local_drift = np.zeros((m, 2))
    np.add.at(local_drift, chain.start, chain.rate[:, None] * chain.vector)

    a = rates.copy()
    rows, outs, column = [None] * m, np.zeros(m), [None] * m
    for n in range(m - 1, 0, -1):
        s = a[n, :n].sum()  # out of n to the sites left (its own loop, a[n, n], excluded)
        outs[n], rows[n], column[n] = s, a[n, :n].copy(), a[:n, n] / s
        a[:n, :n] += np.outer(column[n], a[n, :n])
    pi = np.zeros(m)
    pi[0] = 1.0
    for n in range(1, m):  # balance of n in the chain censored on 0..n: pi_n s_n = sum_a pi_a K'_an
        pi[n] = pi[:n] @ column[n]
    pi /= pi.sum()
    drift = pi @ local_drift

    g = drift[None, :] - local_drift
    for n in range(m - 1, 0, -1):  # the right-hand sides, eliminated in the same order
        g[:n] += column[n][:, None] * g[n]
    chi = np.zeros((m, 2))
    for n in range(1, m):  # back-substitution, chi_0 = 0 (a gauge: only differences enter)
        chi[n] = (rows[n] @ chi[:n] - g[n]) / outs[n]
    return pi, drift, chi


def tracer_diffusion_tensor(network: DiffusionNetwork, temperature: float) -> DiffusionTensor:
    """Exact tracer diffusion tensor at ``temperature`` (K): ``D = 1/2 sum_i pi_i sum_j k_ij w_ij w_ij^T`` with the
    corrector (module docstring), in cm^2/s; no sampling."""
    chain = _directed(network, temperature)
    pi, drift, chi = _stationary_and_corrector(chain)
    occupation = np.zeros(chain.n_all)
    occupation[chain.sites] = pi
    if not len(chain.rate):
        return DiffusionTensor(float(temperature), np.zeros((2, 2)), np.zeros(2), occupation, 0)
    w = chain.vector + chi[chain.end] - chi[chain.start]
    weight = pi[chain.start] * chain.rate
    d = 0.5 * np.einsum("h,ha,hb->ab", weight, w, w)
    d = 0.5 * (d + d.T)
    if chain.dimension == 1:  # across a channel the displacement is bounded: what is left there is rounding
        d = (chain.axis @ d @ chain.axis) * np.outer(chain.axis, chain.axis)
        drift = (chain.axis @ drift) * chain.axis
    elif chain.dimension == 0:
        d, drift = np.zeros((2, 2)), np.zeros(2)
    return DiffusionTensor(float(temperature), d * chain.scale * ANGSTROM2_TO_CM2, drift * chain.scale * ANGSTROM_TO_CM,
                           occupation, chain.dimension)


@dataclass(frozen=True, eq=False)
class KmcEstimate:
    """D from kinetic Monte Carlo: ``tensor`` and its standard error ``stderr`` (2, 2) in cm^2/s, the scalar
    ``tr/2`` with its standard error, the simulated ``time`` per walker (s) and the mean number of hops per
    walker."""

    temperature: float
    tensor: np.ndarray
    stderr: np.ndarray
    scalar: float
    scalar_stderr: float
    time: float
    mean_hops: float


def kmc_diffusion_tensor(network: DiffusionNetwork, temperature: float, n_walkers: int = 2000,
                         n_steps: int = 1000, seed: int | None = 0, burn_in: int | None = None) -> KmcEstimate:
    """D by kinetic Monte Carlo (Gillespie), the check of :func:`tracer_diffusion_tensor`.

    ``n_walkers`` independent adatoms start in the lowest minimum, make ``burn_in`` hops (default ``n_steps // 5``,
    at least 20) to forget it, then run for a fixed time ``t`` worth about ``n_steps`` hops (the mean residence time
    measured over the second half of the burn-in), with unwrapped positions. ``D = Cov(r(t)) / 2t`` over the walkers
    (the sample mean removes any drift); the standard error is that of the mean of the walkers' terms
    ``(r - <r>)(r - <r>)^T / 2t``, statistical only.

    The estimate also carries a bias of order (the site chain's relaxation time) / t, which the standard error does
    not show: the walk must be much longer than the time the adatom takes to forget which sites it was on. On a few
    sites with rates within a few decades that is tens of hops; a cell of 60 random sites at 300 K, with traps
    escaped rarely, needed ~1e4 hops to relax, and 1000-hop walks overestimated D threefold (1500 K: 18 hops, and
    kMC agreed). Use it as a check where the rates are comparable, or with ``n_steps`` and ``burn_in`` well past
    the relaxation time."""
    if n_walkers < 2 or n_steps < 1:
        raise SeiscreenError(f"kinetic Monte Carlo needs at least 2 walkers and 1 step, got {n_walkers} and {n_steps}")
    chain = _directed(network, temperature)
    m = len(chain.sites)
    outgoing = [np.flatnonzero(chain.start == s) for s in range(m)]
    width = max((len(o) for o in outgoing), default=0)
    if width == 0:
        zero = np.zeros((2, 2))
        return KmcEstimate(float(temperature), zero, zero, 0.0, 0.0, np.inf, 0.0)
    cumulative = np.full((m, width), np.inf)
    target = np.zeros((m, width), dtype=int)
    jump = np.zeros((m, width, 2))
    for s, o in enumerate(outgoing):
        cumulative[s, :len(o)] = np.cumsum(chain.rate[o])
        target[s, :len(o)] = chain.end[o]
        jump[s, :len(o)] = chain.vector[o]
    total = np.array([cumulative[s, len(o) - 1] for s, o in enumerate(outgoing)])  # every site reached hops out
    rng = np.random.default_rng(seed)
    site = np.zeros(n_walkers, dtype=int)
    site[:] = int(np.flatnonzero(chain.sites == int(np.argmin(network.energies)))[0])

    def hop(walkers: np.ndarray) -> None:
        s = site[walkers]
        u = rng.random(len(walkers)) * total[s]
        k = (cumulative[s] <= u[:, None]).sum(axis=1)
        position[walkers] += jump[s, k]
        site[walkers] = target[s, k]

    position = np.zeros((n_walkers, 2))
    everyone = np.arange(n_walkers)
    burn_in = max(n_steps // 5, 20) if burn_in is None else int(burn_in)
    waited = 0.0
    for step in range(burn_in):
        dt = rng.exponential(1.0 / total[site])
        if step >= burn_in // 2:
            waited += dt.sum()
        hop(everyone)
    counted = (burn_in - burn_in // 2) * n_walkers
    residence = waited / counted if counted else float(np.mean(1.0 / total))
    duration = n_steps * residence

    position[:] = 0.0
    clock = np.zeros(n_walkers)
    hops = np.zeros(n_walkers)
    active = everyone
    while len(active):
        clock[active] += rng.exponential(1.0 / total[site[active]])
        moving = active[clock[active] <= duration]
        hop(moving)
        hops[moving] += 1
        active = moving

    centred = position - position.mean(axis=0)
    terms = np.einsum("wa,wb->wab", centred, centred) / (2 * duration)
    factor = chain.scale * ANGSTROM2_TO_CM2
    tensor = terms.mean(axis=0) * n_walkers / (n_walkers - 1) * factor
    stderr = terms.std(axis=0, ddof=1) / np.sqrt(n_walkers) * factor
    scalar_terms = 0.5 * (terms[:, 0, 0] + terms[:, 1, 1])
    return KmcEstimate(float(temperature), tensor, stderr,
                       float(scalar_terms.mean() * n_walkers / (n_walkers - 1) * factor),
                       float(scalar_terms.std(ddof=1) / np.sqrt(n_walkers) * factor),
                       float(duration / chain.scale), float(hops.mean()))


@dataclass(frozen=True)
class ArrheniusFit:
    """Least squares of ``ln D = ln D0 - Ea / k_B T``: ``activation_energy`` Ea (eV), ``prefactor`` D0 (cm^2/s) and
    ``rms_residual``, the root mean square of ``ln D`` about the line (0 for a pure Arrhenius law)."""

    activation_energy: float
    prefactor: float
    rms_residual: float


@dataclass(frozen=True, eq=False)
class Arrhenius:
    """D(T) at each temperature and the Arrhenius fits of its scalar ``tr/2`` and of its principal values.

    At low temperature ``fastest`` (the largest eigenvalue, and with it ``scalar``) has the 1D percolation barrier
    of :func:`~seiscreen.surfaces.percolation.percolation_barrier` as its activation energy and ``slowest`` (the
    smallest) the 2D one; ``slowest`` is None where D has rank < 2 at some temperature (channels), and every fit
    None where D vanishes (a trapped adatom)."""

    temperatures: np.ndarray  # K
    results: tuple[DiffusionTensor, ...]
    scalar: ArrheniusFit | None
    fastest: ArrheniusFit | None
    slowest: ArrheniusFit | None

    @property
    def diffusion(self) -> np.ndarray:
        """The scalar D (cm^2/s) at each temperature."""
        return np.array([r.scalar for r in self.results])


def fit_arrhenius(temperatures: Sequence[float], values: Sequence[float]) -> ArrheniusFit | None:
    """Least-squares line through ``ln D`` against ``1 / k_B T`` (at least two temperatures); None if any value is
    not positive."""
    t = np.asarray(temperatures, float)
    d = np.asarray(values, float)
    if len(t) < 2 or len(np.unique(t)) < 2:
        raise SeiscreenError(f"an Arrhenius fit needs at least two different temperatures, got {t.tolist()}")
    if not (d > 0).all():
        return None
    x, y = 1.0 / (K_B * t), np.log(d)
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    return ArrheniusFit(float(-slope), float(np.exp(intercept)), float(np.sqrt(np.mean(residual**2))))


def arrhenius(network: DiffusionNetwork, temperatures: Sequence[float] = DEFAULT_TEMPERATURES) -> Arrhenius:
    """:func:`tracer_diffusion_tensor` at each of ``temperatures`` (K; default 250 to 400 K every 25 K) and the
    Arrhenius fits of the scalar D and of the largest and smallest principal values."""
    t = np.array([_check_temperature(x) for x in temperatures], float)
    results = tuple(tracer_diffusion_tensor(network, x) for x in t)
    eigen = np.array([r.eigenvalues for r in results])
    slowest = eigen[:, 0] if all(r.rank == 2 for r in results) else np.zeros(len(t))
    return Arrhenius(t, results, fit_arrhenius(t, [r.scalar for r in results]), fit_arrhenius(t, eigen[:, -1]),
                     fit_arrhenius(t, slowest))
