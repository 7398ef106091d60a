"""Pure surface geometry: slabs, adsorption sites, hops, percolation, diffusion on the hop network.

Nothing in this package imports a calculator or jobflow.
"""
