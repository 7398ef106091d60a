"""seiscreen."""
