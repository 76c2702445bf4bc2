"""Every tier's shared fixtures live in tests/support, registered here as pytest plugins."""

pytest_plugins = ["tests.support.cli", "tests.support.raw_files", "tests.support.stack"]
