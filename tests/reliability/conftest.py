"""The reliability tier shares the integration tier's real local stack and fixtures."""

from tests.integration.conftest import _reset_metrics, pipeline, stack  # noqa: F401
