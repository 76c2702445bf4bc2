"""Speed fixes for moto's server layer, applied inside our moto server process only.

Measured with py-spy on a stage of 400,000 events and 2,000 song files (issue 14), moto spent
about a quarter of its CPU on work that does not depend on the request:

- ``DomainDispatcherApplication.get_backend_for_host`` lists moto's package folder and stats
  each of its ~150 entries (``backends.list_of_moto_modules``) on every request, under the
  dispatcher's one lock, so concurrent requests also queue there (13 % of moto's samples). The
  folder does not change while the server runs: it is listed once.
- werkzeug logs one access line per request through ``logging`` (10 %). Only failed requests
  (status 500 and up) are logged now; moto's own errors still reach the log.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from moto import backends
from moto.moto_server.werkzeug_app import MotoRequestHandler

_list_of_moto_modules = backends.list_of_moto_modules


@cache
def _cached_list_of_moto_modules() -> Iterable[str]:
    return tuple(_list_of_moto_modules())


class QuietRequestHandler(MotoRequestHandler):
    """moto's request handler, logging a request only when the server failed it."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if str(code).isdigit() and int(code) >= 500:
            super().log_request(code, size)


def apply() -> None:
    backends.list_of_moto_modules = _cached_list_of_moto_modules
