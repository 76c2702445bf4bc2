"""The reliability tier shares the integration tier's real local stack and fixtures."""

from tests.integration.conftest import (  # noqa: F401
    _reset_metrics,
    pipeline,
    sample_reference,
    stack,
)
