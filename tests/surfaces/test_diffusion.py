"""The tracer diffusion tensor of an adatom on periodic hop networks: closed forms worked out by hand, kinetic Monte
Carlo, the Bloch eigenvalue's curvature, and the percolation barrier as the low-temperature activation energy."""

import numpy as np
import pytest

from seiscreen.errors import SeiscreenError
from seiscreen.surfaces.diffusion import (
    DEFAULT_PREFACTOR,
    K_B,
    DiffusionNetwork,
    RatedHop,
    arrhenius,
    kmc_diffusion_tensor,
    network_from_graph,
    tracer_diffusion_tensor,
)
from seiscreen.surfaces.percolation import GraphEdge, percolation_barrier

CM2 = 1e-16  # cm^2 per Å^2


def rate(barrier: float, temperature: float, nu: float = DEFAULT_PREFACTOR) -> float:
    return nu * np.exp(-barrier / (K_B * temperature))


def series_chain(period: float, site_energies, saddles, temperature: float, nu: float = DEFAULT_PREFACTOR) -> float:
    """D (cm^2/s) of a 1D periodic chain of sites joined in series, each edge with the same prefactor both ways.

    Stationary occupation: Boltzmann, ``pi_i = exp(-E_i/kT) / Z``. An edge's equilibrium flux ("conductance")
    ``c_e = pi_i k_ij = nu exp(-E_s/kT) / Z`` is the same from either end. The corrector makes the current
    ``c_e w_e`` the same on every edge of the series (Kirchhoff at each site), and ``sum_e w_e = L`` (chi is
    periodic), so ``w_e = J / c_e`` with ``J = L / sum_e 1/c_e``, and ``D = 1/2 sum_directed pi k w^2 =
    sum_e c_e w_e^2 = J L``:

        D = L^2 / sum_e (1 / c_e) = L^2 nu / (Z sum_e exp(E_s / kT)),

    whatever the positions of the sites inside the period (a zigzag's sideways part cancels over the period)."""
    kt = K_B * temperature
    e0 = min(site_energies)
    z = sum(np.exp(-(e - e0) / kt) for e in site_energies)
    resistance = sum(np.exp((s - e0) / kt) for s in saddles) / nu
    return period**2 / (z * resistance) * CM2


def kmc_agrees(exact: float, kmc: float, stderr: float) -> bool:
    return abs(kmc - exact) <= 3 * stderr


def test_square_lattice_is_gamma_a2_isotropic_exact_and_by_kmc():
    """One site, hops +-a along x and y at rate Gamma: <x^2> = 2 Gamma a^2 t, so D = Gamma a^2 in both directions."""
    a, temperature = 3.1, 300.0
    network = DiffusionNetwork(np.eye(2) * a, [[0.0, 0.0]], [-1.2],
                               (RatedHop(0, 0, (1, 0), -0.9, "x"), RatedHop(0, 0, (0, 1), -0.9, "y")))
    expected = rate(0.3, temperature) * a**2 * CM2
    result = tracer_diffusion_tensor(network, temperature)
    np.testing.assert_allclose(result.tensor, expected * np.eye(2), rtol=1e-12, atol=1e-12 * expected)
    assert result.scalar == pytest.approx(expected, rel=1e-12) and result.rank == 2
    np.testing.assert_array_equal(result.drift, [0.0, 0.0])

    kmc = kmc_diffusion_tensor(network, temperature, n_walkers=2000, n_steps=800, seed=1)
    assert kmc.mean_hops == pytest.approx(800, rel=0.05)
    for (a_, b_), value in np.ndenumerate(result.tensor):
        assert kmc_agrees(value, kmc.tensor[a_, b_], kmc.stderr[a_, b_]), (a_, b_, kmc.tensor, kmc.stderr)
    assert kmc_agrees(result.scalar, kmc.scalar, kmc.scalar_stderr)


def two_site_zigzag(nu_ab: float = DEFAULT_PREFACTOR, nu_ba: float = DEFAULT_PREFACTOR) -> DiffusionNetwork:
    """A (0 eV) at the origin, B (0.05 eV) at (1.3, 0.7) Å, period 4 Å along x: A -> B over 0.15 eV, B -> A in
    the next cell over 0.20 eV (saddles absolute). Each edge has one prefactor both ways."""
    return DiffusionNetwork(np.diag([4.0, 5.0]), [[0.0, 0.0], [1.3, 0.7]], [0.0, 0.05],
                            (RatedHop(0, 1, (0, 0), 0.15, "AB", nu_ab, nu_ab),
                             RatedHop(1, 0, (1, 0), 0.20, "BA", nu_ba, nu_ba)))


@pytest.mark.parametrize("temperature", [100.0, 300.0, 900.0])
def test_two_site_chain_matches_its_closed_form(temperature):
    """Alternating sites A, B: ``D_xx = L^2 / (Z (exp(E1/kT)/nu1 + exp(E2/kT)/nu2))`` (:func:`series_chain`),
    ``D_yy = D_xy = 0`` although every hop moves the adatom sideways (the corrector cancels it), and the
    occupation is Boltzmann. 100 K puts rates 6 decades apart; the elimination keeps full precision."""
    nu1, nu2 = 2e12, 7e13
    network = two_site_zigzag(nu1, nu2)
    result = tracer_diffusion_tensor(network, temperature)
    kt = K_B * temperature
    z = 1 + np.exp(-0.05 / kt)
    expected = 16.0 / (z * (np.exp(0.15 / kt) / nu1 + np.exp(0.20 / kt) / nu2)) * CM2
    assert result.tensor[0, 0] == pytest.approx(expected, rel=1e-12)
    assert result.tensor[1, 1] == 0.0 and result.tensor[0, 1] == 0.0 and result.rank == 1
    np.testing.assert_allclose(result.occupation, [1 / z, np.exp(-0.05 / kt) / z], rtol=1e-12)
    assert np.abs(result.drift).max() <= 1e-10 * expected / 4e-8  # V L / D: detailed balance, no drift


def test_two_site_chain_kmc_agrees_with_the_exact_tensor():
    """kMC along the chain within 3 standard errors. Across it the displacement is bounded (|chi| ~ 1 Å), so its
    sampled D_yy is the O(1/t) offset alone, far below D_xx."""
    network = two_site_zigzag()
    exact = tracer_diffusion_tensor(network, 300.0)
    kmc = kmc_diffusion_tensor(network, 300.0, n_walkers=2000, n_steps=1000, seed=7)
    assert kmc_agrees(exact.tensor[0, 0], kmc.tensor[0, 0], kmc.stderr[0, 0])
    assert kmc_agrees(exact.scalar, kmc.scalar, kmc.scalar_stderr)
    assert abs(kmc.tensor[0, 1]) < 0.01 * exact.tensor[0, 0] and kmc.tensor[1, 1] < 0.01 * exact.tensor[0, 0]


def test_channels_along_x_give_a_rank_one_tensor():
    """Hops only along x (two sites per cell, rows 5 Å apart that never connect): D_yy = D_xy = 0 exactly, and the
    percolation graph of the same hops percolates in 1D only."""
    hops = (RatedHop(0, 0, (1, 0), 0.30, "row0"), RatedHop(1, 1, (1, 0), 0.25, "row1"))
    network = DiffusionNetwork(np.diag([3.0, 5.0]), [[0.0, 0.0], [1.5, 2.5]], [0.0, 0.1], hops)
    result = tracer_diffusion_tensor(network, 300.0)
    assert result.rank == 1 and result.tensor[1, 1] == 0.0 and result.tensor[0, 1] == result.tensor[1, 0] == 0.0
    # The adatom starts in the lowest minimum (row 0) and never reaches row 1.
    assert result.tensor[0, 0] == pytest.approx(rate(0.30, 300.0) * 9.0 * CM2, rel=1e-12)
    np.testing.assert_array_equal(result.occupation, [1.0, 0.0])
    barrier = percolation_barrier(list(network.energies), list(network.hops))
    assert barrier.channel_only and barrier.one_d.barrier == pytest.approx(0.30)


def test_biased_chain_has_its_drift_and_diffusion():
    """One site, hops +a at rate G+ and -a at rate G- (a prefactor per direction that breaks detailed balance):
    V = a (G+ - G-), and around the drift D = a^2 (G+ + G-) / 2 (Skellam). kMC agrees (its sample mean removes
    the drift)."""
    a, temperature = 2.0, 300.0
    network = DiffusionNetwork(np.eye(2) * a, [[0.0, 0.0]], [0.0], (RatedHop(0, 0, (1, 0), 0.2, "x", 3e13, 1e13),))
    g_plus, g_minus = rate(0.2, temperature, 3e13), rate(0.2, temperature, 1e13)
    result = tracer_diffusion_tensor(network, temperature)
    assert result.drift[0] == pytest.approx(a * (g_plus - g_minus) * 1e-8, rel=1e-12)
    assert result.tensor[0, 0] == pytest.approx(a**2 * (g_plus + g_minus) / 2 * CM2, rel=1e-12)
    kmc = kmc_diffusion_tensor(network, temperature, n_walkers=2000, n_steps=500, seed=3)
    assert kmc_agrees(result.tensor[0, 0], kmc.tensor[0, 0], kmc.stderr[0, 0])


def tilted_eigenvalue(network: DiffusionNetwork, temperature: float, theta: np.ndarray) -> float:
    """Perron eigenvalue of the generator tilted by exp(theta . v) on every hop: the exponential growth rate of
    E[exp(theta . X(t))], which is theta . V + theta^T D theta + O(theta^3)."""
    n = len(network.energies)
    q = np.zeros((n, n))
    kt = K_B * temperature
    for hop in network.hops:
        v = network.displacement(hop)
        ends = [(hop.i, hop.j, hop.forward, v)] + ([(hop.j, hop.i, hop.backward, -v)] if hop.backward else [])
        for i, j, nu, d in ends:
            k = nu * np.exp(-(hop.saddle - network.energies[i]) / kt)
            q[i, j] += k * np.exp(theta @ d)
            q[i, i] -= k
    return float(np.max(np.linalg.eigvals(q).real))


def test_exact_tensor_is_the_curvature_of_the_tilted_eigenvalue():
    """An independent route to D (large deviations / Bloch transform): on an irregular three-site network with
    self-image hops, a one-way hop and unequal prefactors per direction (so a drift), D_ab = 1/2 d2 lambda /
    dtheta_a dtheta_b and V = grad lambda at 0, by central differences."""
    cell = np.array([[3.2, 0.0], [1.1, 2.9]])
    positions = [[0.2, 0.1], [1.9, 0.8], [1.0, 2.0]]
    energies = [0.0, 0.04, 0.09]
    hops = (RatedHop(0, 1, (0, 0), 0.20, "a", 1e13, 2e13), RatedHop(1, 2, (0, 0), 0.25, "b", 5e12, 1e13),
            RatedHop(2, 0, (0, 1), 0.22, "c", 1e13, 1e13), RatedHop(1, 0, (1, 0), 0.30, "d", 3e13, None),
            RatedHop(2, 2, (1, 0), 0.27, "e", 1e13, 1e13), RatedHop(0, 2, (-1, 0), 0.18, "f", 8e12, 2e13))
    network = DiffusionNetwork(cell, positions, energies, hops)
    temperature = 400.0
    result = tracer_diffusion_tensor(network, temperature)
    h = 1e-4
    lam = lambda t: tilted_eigenvalue(network, temperature, np.asarray(t, float))  # noqa: E731
    d_xx = (lam([h, 0]) + lam([-h, 0])) / (2 * h * h)
    d_yy = (lam([0, h]) + lam([0, -h])) / (2 * h * h)
    d_xy = ((lam([h, h]) + lam([-h, -h])) / (2 * h * h) - d_xx - d_yy) / 2
    drift = np.array([lam([h, 0]) - lam([-h, 0]), lam([0, h]) - lam([0, -h])]) / (2 * h)
    np.testing.assert_allclose(result.tensor / CM2, [[d_xx, d_xy], [d_xy, d_yy]], rtol=1e-5)
    np.testing.assert_allclose(result.drift / 1e-8, drift, rtol=1e-5)
    assert np.linalg.norm(result.drift) * 3e-8 / result.scalar > 0.1  # a real drift: V L / D, L = 3 Å
    kmc = kmc_diffusion_tensor(network, temperature, n_walkers=2000, n_steps=1000, seed=11)
    assert kmc_agrees(result.scalar, kmc.scalar, kmc.scalar_stderr)


def deep_trap_network() -> DiffusionNetwork:
    """Along x (period 3 Å) a trap T (-0.5 eV) and two sites M, N (0 eV): saddles T-M 0.20, M-N 0.30, N-T' 0.25
    (tests/surfaces/test_percolation.py's deep trap); across, M-M' over 0.35 eV (the high hop, period 3 Å)."""
    return DiffusionNetwork(np.diag([3.0, 3.0]), [[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]], [-0.5, 0.0, 0.0],
                            (RatedHop(0, 1, (0, 0), 0.20, "TM"), RatedHop(1, 2, (0, 0), 0.30, "MN"),
                             RatedHop(2, 0, (1, 0), 0.25, "NT"), RatedHop(1, 1, (0, 1), 0.35, "MM")))


def test_low_temperature_activation_energy_is_the_percolation_barrier_in_2d():
    """Every single hop is at most 0.75 eV from its start, but moving for ever along x starts from the trap and
    crosses 0.30: 0.80 eV (the energy span), and across 0.35 + 0.5 = 0.85 eV. At 100-150 K the fitted activation
    energies of the largest and smallest principal D are those 1D and 2D percolation barriers (the next saddle,
    0.05 eV lower, weighs in at exp(-0.05/kT) ~ 1%). D_xx is also exact against the series chain at 100 K, with
    rates 28 decades apart."""
    network = deep_trap_network()
    barrier = percolation_barrier(list(network.energies), list(network.hops))
    assert barrier.one_d.barrier == pytest.approx(0.80) and barrier.two_d.barrier == pytest.approx(0.85)
    fit = arrhenius(network, np.linspace(100.0, 150.0, 6))
    assert fit.fastest.activation_energy == pytest.approx(barrier.one_d.barrier, abs=2e-3)
    assert fit.scalar.activation_energy == pytest.approx(barrier.one_d.barrier, abs=2e-3)
    assert fit.slowest.activation_energy == pytest.approx(barrier.two_d.barrier, abs=2e-3)
    assert fit.fastest.activation_energy > 0.75 + 0.04  # not the largest single-hop barrier
    assert fit.scalar.rms_residual < 1e-3
    cold = tracer_diffusion_tensor(network, 100.0)
    assert cold.tensor[0, 0] == pytest.approx(series_chain(3.0, [-0.5, 0, 0], [0.2, 0.3, 0.25], 100.0), rel=1e-10)


def test_a_network_that_percolates_in_1d_only():
    """A zigzag channel (A 0 eV, B 0.1 eV, saddles 0.35 and 0.40 eV): the 2D percolation barrier is None, D has rank
    1 along x, and its activation energy at low temperature is the 1D barrier, 0.40 eV."""
    network = DiffusionNetwork(np.diag([3.0, 4.0]), [[0.0, 0.0], [1.5, 1.0]], [0.0, 0.1],
                               (RatedHop(0, 1, (0, 0), 0.35, "AB"), RatedHop(1, 0, (1, 0), 0.40, "BA")))
    barrier = percolation_barrier(list(network.energies), list(network.hops))
    assert barrier.two_d.barrier is None and barrier.one_d.barrier == pytest.approx(0.40)
    fit = arrhenius(network, np.linspace(100.0, 150.0, 6))
    assert all(r.rank == 1 and r.tensor[1, 1] == 0.0 for r in fit.results)
    assert fit.slowest is None
    assert fit.scalar.activation_energy == pytest.approx(barrier.one_d.barrier, abs=2e-3)


def test_a_dilute_trap_counts_in_full_for_percolation_but_only_while_occupied_for_d():
    """Where they differ. A chain of 30 mobile sites B (0 eV, B-B saddles 0.10 eV) and one trap T (-0.10 eV, left
    over 0.0 eV) per 31 Å period. The percolation barrier is the energy span, 0.10 - (-0.10) = 0.20 eV: the T -> 0
    limit, where the adatom sits in the trap. At 250-400 K the trap holds it only part of the time,
    ``pi_T = e^{0.1/kT} / (e^{0.1/kT} + 30)`` (0.77 to 0.38), and the series chain gives the local activation
    energy ``-d ln D / d(1/kT) = 0.10 + 0.10 pi_T + (the 0 eV saddles' share, ~1e-3 eV less)``: the apparent Ea is
    about 0.16 eV, lowered by the thermal occupation of the shallow sites. At 50-70 K it is back at 0.20 eV."""
    g = 30
    positions = [[float(k), 0.0] for k in range(g + 1)]
    energies = [-0.10] + [0.0] * g
    hops = [RatedHop(0, 1, (0, 0), 0.0, "TB"), RatedHop(g, 0, (1, 0), 0.0, "BT")]
    hops += [RatedHop(k, k + 1, (0, 0), 0.10, "BB") for k in range(1, g)]
    network = DiffusionNetwork(np.diag([g + 1.0, 5.0]), positions, energies, tuple(hops))
    barrier = percolation_barrier(energies, hops)
    assert barrier.one_d.barrier == pytest.approx(0.20)

    temperatures = np.linspace(250.0, 400.0, 7)
    fit = arrhenius(network, temperatures)
    saddles = [0.0, 0.0] + [0.10] * (g - 1)
    for result in fit.results:
        assert result.tensor[0, 0] == pytest.approx(
            series_chain(g + 1.0, energies, saddles, result.temperature), rel=1e-10)

    def local_ea(temperature: float) -> float:
        beta = 1 / (K_B * temperature)
        pi_trap = np.exp(0.1 * beta) / (np.exp(0.1 * beta) + g)
        weights = np.exp(np.array(saddles) * beta)
        return 0.1 * pi_trap + float(np.dot(saddles, weights) / weights.sum())

    local = [local_ea(t) for t in temperatures]
    assert min(local) - 1e-3 < fit.scalar.activation_energy < max(local) + 1e-3
    assert fit.scalar.activation_energy < barrier.one_d.barrier - 0.03
    cold = arrhenius(network, np.linspace(50.0, 70.0, 5))
    assert cold.scalar.activation_energy == pytest.approx(barrier.one_d.barrier, abs=3e-3)


def test_many_higher_parallel_paths_raise_the_apparent_activation_energy():
    """Where they differ the other way. One site, period 3 Å along x: one hop over 0.30 eV and 20 parallel copies
    of a wider path over 0.40 eV between the same ends (as 20 listed hops). Percolation takes the lowest, 0.30 eV.
    ``D_xx = a^2 (G1 + 20 G2)``, so the local activation energy is the flux-weighted mean of the two,
    ``(0.30 G1 + 0.40 * 20 G2) / (G1 + 20 G2)``: about 0.33 eV at 250-400 K, where the higher paths carry a third
    of the flux; it returns to 0.30 eV only as T -> 0."""
    hops = (RatedHop(0, 0, (1, 0), 0.30, "low"),) + tuple(RatedHop(0, 0, (1, 0), 0.40, "wide") for _ in range(20))
    network = DiffusionNetwork(np.diag([3.0, 3.0]), [[0.0, 0.0]], [0.0], hops)
    barrier = percolation_barrier([0.0], list(hops))
    assert barrier.one_d.barrier == pytest.approx(0.30)
    temperatures = np.linspace(250.0, 400.0, 7)
    fit = arrhenius(network, temperatures)
    for result in fit.results:
        g1, g2 = rate(0.30, result.temperature), rate(0.40, result.temperature)
        assert result.tensor[0, 0] == pytest.approx(9.0 * (g1 + 20 * g2) * CM2, rel=1e-12)
    local = [(0.30 * rate(0.30, t) + 0.40 * 20 * rate(0.40, t)) / (rate(0.30, t) + 20 * rate(0.40, t))
             for t in temperatures]
    assert min(local) - 1e-3 < fit.fastest.activation_energy < max(local) + 1e-3
    assert fit.fastest.activation_energy > barrier.one_d.barrier + 0.02


def test_network_from_the_percolation_graph():
    """The same nodes and edges the percolation barrier takes, plus positions, cell and prefactors (one number, or
    per direction by a function of the edge)."""
    energies = [0.0, 0.05]
    edges = [GraphEdge(0, 1, (0, 0), 0.15, "AB"), GraphEdge(1, 0, (1, 0), 0.20, "BA")]
    positions, cell = np.array([[0.0, 0.0], [1.3, 0.7]]), np.diag([4.0, 5.0])
    plain = network_from_graph(energies, edges, positions, cell)
    assert tracer_diffusion_tensor(plain, 300.0).tensor == pytest.approx(
        tracer_diffusion_tensor(two_site_zigzag(), 300.0).tensor, rel=1e-14)
    table = {"AB": 2e12, "BA": 7e13}
    per_edge = network_from_graph(energies, edges, positions, cell, lambda edge, forward: table[edge.label])
    assert tracer_diffusion_tensor(per_edge, 300.0).tensor == pytest.approx(
        tracer_diffusion_tensor(two_site_zigzag(2e12, 7e13), 300.0).tensor, rel=1e-14)
    assert [h.backward for h in per_edge.hops] == [2e12, 7e13]
    assert percolation_barrier(energies, list(per_edge.hops)) == percolation_barrier(energies, edges)


def test_an_isolated_lowest_minimum_does_not_diffuse():
    """The lowest minimum has no hop: D = 0, rank 0, no Arrhenius fit, as the percolation barrier is None."""
    network = DiffusionNetwork(np.eye(2) * 3.0, [[0.0, 0.0], [1.5, 1.5]], [-0.3, 0.0],
                               (RatedHop(1, 1, (1, 0), 0.1), RatedHop(1, 1, (0, 1), 0.1)))
    result = tracer_diffusion_tensor(network, 300.0)
    assert result.rank == 0 and not result.tensor.any()
    assert arrhenius(network).scalar is None
    assert kmc_diffusion_tensor(network, 300.0, n_walkers=10, n_steps=10).scalar == 0.0


def square() -> dict:
    return {"cell": np.eye(2) * 3.0, "positions": [[0.0, 0.0]], "energies": [0.0]}


@pytest.mark.parametrize("hops, message", [
    ((RatedHop(0, 1, (1, 0), 0.3),), "names site 1"),
    ((RatedHop(0, 0, (1, 0), 0.3, "x", -1e13, 1e13),), "forward prefactor must be a positive"),
    ((RatedHop(0, 0, (1, 0), 0.3, "x", 1e13, -1.0),), "backward prefactor must be a positive"),
    ((RatedHop(0, 0, (1, 0), 0.3, "x", 0.0, 1e13),), "forward prefactor must be a positive"),
    ((RatedHop(0, 0, (1, 0), -0.2),), "lies below its higher end"),
    ((RatedHop(0, 0, (0, 0), 0.3),), "to itself in the same cell"),
    ((GraphEdge(0, 0, (1, 0), 0.3),), "give a RatedHop"),
])
def test_bad_hops_are_refused(hops, message):
    with pytest.raises(SeiscreenError, match=message):
        DiffusionNetwork(hops=hops, **square())


@pytest.mark.parametrize("temperature", [0.0, -10.0, float("nan"), float("inf")])
def test_bad_temperatures_are_refused(temperature):
    network = DiffusionNetwork(hops=(RatedHop(0, 0, (1, 0), 0.3),), **square())
    for call in (lambda: tracer_diffusion_tensor(network, temperature),
                 lambda: kmc_diffusion_tensor(network, temperature, 10, 10),
                 lambda: arrhenius(network, [300.0, temperature])):
        with pytest.raises(SeiscreenError, match="temperature must be a positive"):
            call()


def test_other_bad_networks_are_refused():
    with pytest.raises(SeiscreenError, match="one position and one energy per site"):
        DiffusionNetwork(np.eye(2), [[0.0, 0.0]], [0.0, 0.1], ())
    with pytest.raises(SeiscreenError, match="two independent in-plane vectors"):
        DiffusionNetwork(np.array([[1.0, 0.0], [2.0, 0.0]]), [[0.0, 0.0]], [0.0], ())
    one_way = DiffusionNetwork(np.eye(2) * 3.0, [[0.0, 0.0], [1.5, 0.0]], [0.0, 0.1],
                               (RatedHop(0, 1, (0, 0), 0.3, "out", 1e13, None), RatedHop(1, 1, (1, 0), 0.2)))
    with pytest.raises(SeiscreenError, match="lead nowhere back"):
        tracer_diffusion_tensor(one_way, 300.0)
    with pytest.raises(SeiscreenError, match="too cold"):
        cold = (RatedHop(0, 0, (1, 0), 0.3), RatedHop(0, 0, (0, 1), 8.0))
        tracer_diffusion_tensor(DiffusionNetwork(hops=cold, **square()), 100.0)
    with pytest.raises(SeiscreenError, match="two different temperatures"):
        arrhenius(DiffusionNetwork(hops=(RatedHop(0, 0, (1, 0), 0.3),), **square()), [300.0])
