"""A stop signal inside a deferred region waits for the region's checkpoint; elsewhere it
interrupts at once. Real signals to this process, through the handler the CLI installs."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from sparkify_local.runtime import interrupts


@pytest.fixture
def stop_handler() -> Iterator[None]:
    previous = signal.signal(signal.SIGTERM, interrupts.interrupt)
    yield
    signal.signal(signal.SIGTERM, previous)


def _signal_self() -> None:
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.05)  # the handler runs in this thread at its next bytecode; give it one


def test_a_signal_outside_a_deferred_region_interrupts_at_once(stop_handler: None) -> None:
    with pytest.raises(KeyboardInterrupt):
        _signal_self()


def test_a_signal_inside_a_deferred_region_waits_for_the_checkpoint(stop_handler: None) -> None:
    reached_checkpoint = False
    with pytest.raises(KeyboardInterrupt), interrupts.deferred():
        _signal_self()
        _signal_self()  # a second one is the same interrupt, raised once
        reached_checkpoint = True
        interrupts.checkpoint()
    assert reached_checkpoint
    interrupts.checkpoint()  # nothing pending any more


def test_a_deferred_signal_is_raised_when_the_region_ends_without_a_checkpoint(
    stop_handler: None,
) -> None:
    left_region = False
    with pytest.raises(KeyboardInterrupt):
        with interrupts.deferred():
            _signal_self()
        left_region = True
    assert not left_region
