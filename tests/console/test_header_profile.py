"""The console's header shows the calibration profile a treatment will apply and its expiry,
an expired one as EXPIRED, and a real device with none as one that will not treat (NiceGUI's
simulated user; run with `pytest -p nicegui.testing.plugin tests/console`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from nicegui.testing import User

from mesodrive.console.runtime import station
from tests.console.conftest import TOKEN
from tests.console.helpers import until
from tests.records.profile_helpers import TODAY, new_profile, store_profile

HOME = f"/?token={TOKEN}"


def _profile_text(user: User) -> str:
    try:
        return str(next(iter(user.find(marker="profile").elements)).text)
    except AssertionError:  # not shown (yet): the header refreshes on a timer
        return ""


async def _open(user: User) -> None:
    await user.open(HOME)
    await until(lambda: station().inj is not None, what="the simulator to connect")
    await until(lambda: _profile_text(user).startswith("calibration:"), what="the profile")


async def test_header_shows_the_profile_and_its_expiry(user: User, console_env: Path) -> None:
    pid = store_profile(console_env)
    await _open(user)
    expires = (TODAY + dt.timedelta(days=30)).isoformat()
    assert _profile_text(user) == f"calibration: profile {pid} · expires {expires}"


async def test_header_says_an_expired_profile_is_not_applied(
        user: User, console_env: Path) -> None:
    when = TODAY - dt.timedelta(days=1)
    pid = store_profile(console_env, new_profile(expires=when))
    await _open(user)
    assert _profile_text(user) == (f"calibration: profile {pid} EXPIRED {when.isoformat()} · "
                                   f"uncalibrated")


@pytest.mark.console_device("sim://?seed=4&realtime=1&serial=INJ-0042")
async def test_header_says_a_real_device_without_a_profile_will_not_treat(user: User) -> None:
    await _open(user)
    assert _profile_text(user) == "calibration: NO calibration profile · will not treat"
