"""The route fixture lives in tests/route.py (registered in tests/conftest.py)."""

from tests.route import Route

__all__ = ["Route"]
