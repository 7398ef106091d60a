"""Engines of the descriptor panel: one module per criterion of an ideal SEI."""
