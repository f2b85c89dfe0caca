"""`mesodrive demo` refuses bad numbers before anything connects (issue 10: NaN anywhere)."""

from __future__ import annotations

import pytest

from mesodrive.cli import main
from mesodrive.driver.injector import Injector


@pytest.mark.parametrize(("flag", "value"), [("--volume", "nan"), ("--volume", "inf"),
                                              ("--volume", "-1"), ("--depth", "nan")])
def test_bad_numbers_are_refused_before_the_device_is_touched(
        flag: str, value: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    def no_device(*args: object, **kwargs: object) -> Injector:
        raise AssertionError("connected to the device for a refused input")

    monkeypatch.setattr(Injector, "connect", no_device)
    assert main(["demo", flag, value]) == 2
    err = capsys.readouterr().err
    assert f"{flag} {float(value)}" in err  # the field and the value it got
