"""Helpers shared by test modules: import them from here, not from another test
module or from conftest.py (which keeps only fixtures and markers)."""
