"""Shared test helpers: fixtures, builders and independent oracles, registered as a pytest plugin.

``tests/conftest.py`` registers the fixture modules (``pytest_plugins``); tests import builders and
assertions from here, never from a conftest or from another test module.
"""
