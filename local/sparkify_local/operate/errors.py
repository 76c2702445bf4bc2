"""The errors a command against a deployed stack ends with: one line each, exit 1 (kept apart
from the code that raises them, so that the CLI can catch them without importing boto3)."""


class StackError(RuntimeError):
    """The stack cannot be operated: no credentials, no such stack, not a Sparkify loader, not
    created yet. The message is one line for the user."""


class DataApiError(RuntimeError):
    """A statement the Data API refused, that failed in the warehouse, or that took too long;
    the message is one line for the user."""
