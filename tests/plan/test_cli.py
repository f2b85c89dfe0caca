"""`mesodrive plan check | show` through mesodrive.cli.main."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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


# --- the picture's content (issue 14): orientation, overrides, a legend for a few depths ---

def _figure(path: Path, color: str = "depth") -> Any:
    from mesodrive.cli.plan_cmd import draw
    from mesodrive.plan import validate_plan_file

    return draw(validate_plan_file(path), path, color=color)


def _labels(ax: Any) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def _close(fig: Any) -> None:
    import matplotlib.pyplot as plt

    plt.close(fig)


@pytest.mark.parametrize(("name", "front"), [("face.toml", "up, toward the forehead"),
                                             ("scalp.toml", "front (forehead)")])
def test_show_marks_the_patients_left_and_right_and_the_front(name: str, front: str) -> None:
    fig = _figure(EXAMPLES / name)
    ax = fig.axes[0]
    xlabel, ylabel = ax.get_xlabel(), ax.get_ylabel()
    # the plans' frame: x runs from the patient's left to the patient's right
    assert xlabel.index("patient's left") < xlabel.index("patient's right")
    assert ylabel.endswith(f"{front} →")  # +y, at the top of the picture
    assert ax.get_ylim()[0] < ax.get_ylim()[1] and ax.get_xlim()[0] < ax.get_xlim()[1]
    _close(fig)


def test_show_uses_a_legend_entry_per_depth_when_there_are_few() -> None:
    fig = _figure(EXAMPLES / "face.toml")  # 1.2 mm forehead, 2.0 mm cheeks, 1.5 mm elsewhere
    assert len(fig.axes) == 1  # no colour bar
    depths = [label for label in _labels(fig.axes[0]) if label.startswith("depth ")]
    assert [d.split(" (")[0] for d in depths] == ["depth 1.2 mm", "depth 1.5 mm", "depth 2 mm"]
    assert sum(int(d.split("(")[1].rstrip(")")) for d in depths) == 105
    _close(fig)


def test_show_uses_a_colour_bar_for_many_depths(tmp_path: Path) -> None:
    depths = [1.0 + 0.1 * i for i in range(8)]
    (tmp_path / "points.csv").write_text(
        "x_mm,y_mm,depth_mm\n" + "".join(f"{10 * i},0,{d:.1f}\n" for i, d in enumerate(depths)))
    plan = tmp_path / "p.toml"
    plan.write_text(f'''schema_version = 1
patient_ref = "T-1"
library = "{(EXAMPLES / "products.toml").as_posix()}"
product = "skin-booster-ha"
indication = "skin"
points_csv = "points.csv"
mode = "triggered"
[defaults]
depth_mm = 1.5
volume_ul = 20
flow_ul_s = 40
speed_mm_s = 40
''')
    fig = _figure(plan)
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "depth (mm)"  # a colour bar
    assert not any(label.startswith("depth ") for label in _labels(fig.axes[0]))
    _close(fig)


def test_show_rings_the_points_under_a_soft_limit_override() -> None:
    from mesodrive.plan import validate_plan_file

    vp = validate_plan_file(EXAMPLES / "scalp.toml")
    (override,) = vp.overrides  # the frontal hairline's 1.2 mm, below the soft minimum
    expected = {(p.x_mm, p.y_mm) for p in vp.points if p.depth_mm == override.value}
    assert expected
    fig = _figure(EXAMPLES / "scalp.toml")
    ax = fig.axes[0]
    (rings,) = [line for line in ax.get_lines() if line.get_gid() == "overrides"]
    assert set(zip(rings.get_xdata(), rings.get_ydata(), strict=True)) == expected
    assert f"soft-limit override ({len(expected)})" in _labels(ax)
    _close(fig)
    fig = _figure(EXAMPLES / "face.toml")  # no overrides: no rings
    assert not [line for line in fig.axes[0].get_lines() if line.get_gid() == "overrides"]
    _close(fig)
