"""Hydra configuration tree of the toolkit (YAML files; this package only locates them)."""
