"""`mesodrive plan check | show` through mesodrive.cli.main."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mesodrive.cli import main

from .helpers import BROKEN, EXAMPLES


def test_check_valid_plan_prints_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "check", str(EXAMPLES / "scalp.toml")]) == 0
    out = capsys.readouterr().out
    for fragment in ("hair-revital", "points     157", "µL total", "0 refill(s)",
                     "auto at 1 shots/s", "estimate", "frontal hairline: thin scalp skin",
                     "VALID"):
        assert fragment in out, fragment


def test_check_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "check", "--json", str(EXAMPLES / "face.toml")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["valid"] and doc["points"] == 105 and doc["total_volume_ul"] == 2100
    assert main(["plan", "check", "--json", str(BROKEN / "unknown_key.toml")]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert not doc["valid"] and any(i["field"] == "defaults.depht_mm" for i in doc["issues"])


def test_check_invalid_lists_every_issue(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "check", str(BROKEN / "soft_breach_no_reason.toml")]) == 1
    out = capsys.readouterr().out
    assert "INVALID, 2 issues" in out
    assert "overrides[0].reason" in out and "defaults.volume_ul = 70" in out


def test_unreadable_file_and_bad_arguments_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", "check", str(tmp_path / "absent.toml")]) == 2
    assert "cannot read" in capsys.readouterr().err
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00")
    assert main(["plan", "check", str(tmp_path / "bin.toml")]) == 2
    assert main(["plan", "check", str(tmp_path)]) == 2  # a directory
    with pytest.raises(SystemExit) as ei:
        main(["plan", "check"])
    assert ei.value.code == 2
    with pytest.raises(SystemExit) as ei:
        main(["plan", "show", str(EXAMPLES / "face.toml")])  # no -o
    assert ei.value.code == 2


@pytest.mark.parametrize(("name", "color"), [("scalp.toml", "volume"), ("face.toml", "depth")])
def test_show_writes_a_png(
    tmp_path: Path, name: str, color: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "grid.png"
    assert main(["plan", "show", str(EXAMPLES / name), "-o", str(out), "--color", color]) == 0
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert "wrote" in capsys.readouterr().out


def test_show_with_refills_and_numbers(tmp_path: Path) -> None:
    plan = tmp_path / "p.toml"
    plan.write_text((BROKEN / "lib" / "base_valid.toml").read_text()
                    .replace('library = "products.toml"',
                             f'library = "{(BROKEN / "lib" / "products.toml").as_posix()}"')
                    .replace('mode = "triggered"', 'mode = "triggered"\nrefill_ul = 200'))
    assert main(["plan", "show", str(plan), "-o", str(tmp_path / "g.png"), "--numbers"]) == 0
    assert (tmp_path / "g.png").stat().st_size > 10_000


def test_show_invalid_plan_and_unwritable_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", "show", str(BROKEN / "empty_area.toml"), "-o",
                 str(tmp_path / "x.png")]) == 1
    assert "the area is empty" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
    assert main(["plan", "show", str(EXAMPLES / "face.toml"), "-o",
                 str(tmp_path / "no" / "such" / "dir" / "x.png")]) == 2
