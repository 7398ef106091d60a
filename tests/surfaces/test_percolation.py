"""The effective barrier on synthetic periodic hop graphs (surfaces in 2D, bulks in 3D) with answers worked out by
hand."""

import pytest

from seiscreen.surfaces.percolation import GraphEdge, percolation_barrier, percolation_levels


def test_a_1d_channel_percolates_in_1d_only():
    # One minimum per cell, hops only along a: a channel.
    result = percolation_barrier([0.0], [GraphEdge(0, 0, (1, 0), 0.2, "row")])
    assert result.one_d.barrier == pytest.approx(0.2) and result.one_d.directions == ((1, 0),)
    assert result.two_d.level is None and result.channel_only


def test_square_net_percolates_in_2d_at_its_hop_barrier():
    edges = [GraphEdge(0, 0, (1, 0), 0.3, "a"), GraphEdge(0, 0, (0, 1), 0.3, "b")]
    result = percolation_barrier([0.0], edges)
    assert result.one_d.barrier == pytest.approx(0.3) and result.two_d.barrier == pytest.approx(0.3)
    assert not result.channel_only


def test_rectangular_net_is_anisotropic():
    # Easy along a (0.1 eV), hard along b (0.5 eV): 1D at 0.1, 2D only once the hard hop opens.
    edges = [GraphEdge(0, 0, (0, 1), 0.5, "across"), GraphEdge(0, 0, (1, 0), 0.1, "along")]
    result = percolation_barrier([0.0], edges)
    assert result.one_d.barrier == pytest.approx(0.1) and result.one_d.limiting_hop == "along"
    assert result.two_d.barrier == pytest.approx(0.5) and result.two_d.limiting_hop == "across"
    assert result.lowest_hop_barrier == pytest.approx(0.1)


def test_deep_trap_energy_span_exceeds_every_single_hop():
    # Chain along a with three minima per cell: trap T (-0.5 eV), M (0), N (0).
    # Saddles: T-M 0.2, M-N 0.3, N-T(next cell) 0.25. Single-hop barriers: T->M 0.7, M->T 0.2, M->N 0.3,
    # N->M 0.3, N->T' 0.25, T'->N 0.75 (largest 0.75). Moving for ever needs every saddle up to 0.3 while
    # starting from the trap at -0.5: effective barrier 0.8 eV.
    edges = [GraphEdge(0, 1, (0, 0), 0.2, "TM"), GraphEdge(1, 2, (0, 0), 0.3, "MN"),
             GraphEdge(2, 0, (1, 0), 0.25, "NT")]
    result = percolation_barrier([-0.5, 0.0, 0.0], edges)
    assert result.one_d.level == pytest.approx(0.3) and result.one_d.barrier == pytest.approx(0.8)
    assert result.one_d.barrier > 0.75
    assert set(result.one_d.path_hops) == {"TM", "MN", "NT"}


def test_percolating_cluster_must_contain_the_lowest_minimum():
    # B-B hops percolate in 2D at 0.1, but the adatom rests in A (-0.3), reachable from B only over 0.6.
    edges = [GraphEdge(1, 1, (1, 0), 0.1, "BBx"), GraphEdge(1, 1, (0, 1), 0.1, "BBy"),
             GraphEdge(0, 1, (0, 0), 0.6, "AB")]
    result = percolation_barrier([-0.3, 0.0], edges)
    assert result.two_d.level == pytest.approx(0.6) and result.two_d.barrier == pytest.approx(0.9)
    assert result.two_d.limiting_hop == "AB"


def test_a_loop_inside_one_cell_does_not_percolate():
    # Three minima joined in a triangle within the cell: a closed loop with zero net translation.
    edges = [GraphEdge(0, 1, (0, 0), 0.1), GraphEdge(1, 2, (0, 0), 0.1), GraphEdge(2, 0, (0, 0), 0.1)]
    result = percolation_barrier([0.0, 0.0, 0.0], edges)
    assert result.one_d.level is None and result.two_d.level is None


def test_diagonal_translations_count_as_two_directions():
    # Hops along (1,1) and (1,-1) alone reach every cell of a sublattice: 2D.
    edges = [GraphEdge(0, 0, (1, 1), 0.2, "d1"), GraphEdge(0, 0, (1, -1), 0.4, "d2")]
    result = percolation_barrier([0.0], edges)
    assert result.one_d.barrier == pytest.approx(0.2) and result.two_d.barrier == pytest.approx(0.4)


def test_simple_cubic_bulk_percolates_in_3d_at_its_hardest_axis():
    # One site per cell, hops along a (0.2), b (0.3), c (0.5): a chain, then a plane, then the whole lattice.
    edges = [GraphEdge(0, 0, (0, 0, 1), 0.5, "c"), GraphEdge(0, 0, (1, 0, 0), 0.2, "a"),
             GraphEdge(0, 0, (0, 1, 0), 0.3, "b")]
    one_d, two_d, three_d = percolation_levels([0.0], edges, 3)
    assert (one_d.barrier, two_d.barrier, three_d.barrier) == pytest.approx((0.2, 0.3, 0.5))
    assert three_d.limiting_hop == "c" and len(three_d.directions) == 3


def test_layered_bulk_percolates_in_2d_only():
    # Hops within the ab planes only: no path between the layers, however high the level.
    edges = [GraphEdge(0, 0, (1, 0, 0), 0.1, "a"), GraphEdge(0, 0, (0, 1, 0), 0.1, "b"),
             GraphEdge(0, 0, (1, 1, 0), 0.2, "ab")]
    one_d, two_d, three_d = percolation_levels([0.0], edges, 3)
    assert two_d.barrier == pytest.approx(0.1) and three_d.level is None and three_d.barrier is None


def test_3d_network_through_two_sites_counts_its_trap():
    # Sites A (-0.2 eV) and B (0) in the cell; A-B within the cell (saddle 0.3) and B to A of the next cell along
    # a, b, c (saddle 0.4): the loops A-B-A' span three directions once both saddles are open, from the trap A.
    edges = [GraphEdge(0, 1, (0, 0, 0), 0.3, "AB")]
    edges += [GraphEdge(1, 0, image, 0.4, "BA'") for image in ((1, 0, 0), (0, 1, 0), (0, 0, 1))]
    one_d, _, three_d = percolation_levels([-0.2, 0.0], edges, 3)
    assert one_d.level == pytest.approx(0.4) and three_d.barrier == pytest.approx(0.6)
    assert set(three_d.path_hops) == {"AB", "BA'"}


def test_fcc_lattice_percolates_through_its_nearest_neighbour_hops():
    # fcc's primitive cell: the 6 nearest-neighbour hop images; any three of them are independent.
    images = [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, -1, 0), (0, 1, -1), (1, 0, -1)]
    result = percolation_levels([0.0], [GraphEdge(0, 0, im, 0.7, "nn") for im in images], 3)
    assert [p.barrier for p in result] == pytest.approx([0.7, 0.7, 0.7])
