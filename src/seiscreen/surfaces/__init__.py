"""Pure surface geometry: slabs, adsorption sites, hops, percolation.

Nothing in this package imports a calculator or jobflow.
"""
