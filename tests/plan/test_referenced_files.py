"""Files a plan references (point lists, product libraries) and the plan file itself: regular
files only, bounded size, bounded cells, no content echoed from a file that is not a point
list, the point cap applied while reading, a UTF-8 byte-order mark read normally."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mesodrive.cli import main
from mesodrive.plan import MAX_POINTS, PlanError, load_library, load_plan, validate_plan
from mesodrive.plan.csvpoints import parse_points_csv

from .helpers import BROKEN, LIBRARY, make_plan

CSV_PLAN: dict[str, Any] = {"area": None, "spacing_mm": None, "pattern": None,
                            "points_csv": "pts.csv"}
LIB_TEXT = (BROKEN / "lib" / "products.toml").read_text()
PLAN_TEXT = (BROKEN / "lib" / "base_valid.toml").read_text()


def csv_issues(tmp_path: Path) -> str:
    with pytest.raises(PlanError) as ei:
        validate_plan(make_plan(**CSV_PLAN), LIBRARY, base_dir=tmp_path)
    return str(ei.value)


def json_issues(plan: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code = main(["plan", "check", "--json", str(plan)])
    out = capsys.readouterr()
    assert code in (1, 2) and "Traceback" not in out.err
    return out.out + out.err


@pytest.mark.timeout(30)
def test_a_fifo_point_list_is_refused_without_hanging(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pts.csv")  # nobody writes: reading it would block for ever
    assert "not a regular file" in csv_issues(tmp_path)


@pytest.mark.timeout(30)
def test_a_fifo_library_is_refused_without_hanging(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "products.toml")
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN_TEXT)
    with pytest.raises(PlanError, match="not a regular file"):
        load_library(tmp_path / "products.toml")
    assert main(["plan", "check", str(plan)]) == 1


@pytest.mark.timeout(30)
def test_dev_zero_is_refused_without_reading_it(tmp_path: Path) -> None:
    (tmp_path / "pts.csv").symlink_to("/dev/zero")
    assert "not a regular file" in csv_issues(tmp_path)
    with pytest.raises(PlanError, match="not a regular file"):
        load_library(Path("/dev/zero"))
    with pytest.raises(PlanError, match="not a regular file"):
        load_plan(Path("/dev/zero"))


def test_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "pts.csv").mkdir()
    text = csv_issues(tmp_path)
    assert "not a regular file" in text and text.count("[limit:") == 1  # one clean issue
    with pytest.raises(PlanError) as ei:
        load_plan(tmp_path)
    (issue,) = ei.value.issues
    assert (issue.field, issue.limit) == ("plan", "a readable regular file")
    assert issue.message == ("the plan file is not a regular file (a directory, device, pipe "
                             f"or socket): {tmp_path}")


def test_paths_in_messages_are_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "check", str(tmp_path / "a\x1b[2Jb.toml")]) == 2
    assert "\x1b" not in capsys.readouterr().err


def test_an_oversized_file_is_refused(tmp_path: Path) -> None:
    with (tmp_path / "pts.csv").open("wb") as f:
        f.write(b"x_mm,y_mm\n")
        f.truncate(11 * 1024 * 1024)  # sparse: 11 MB of NULs
    assert "10 MB" in csv_issues(tmp_path)


def test_a_cell_over_128_kib_is_an_issue_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "pts.csv").write_text("x_mm,y_mm\n0,0\n" + "1" * 200_000 + ",5\n")
    text = csv_issues(tmp_path)
    assert "points_csv[3]" in text and "128 KiB" in text
    assert "1" * 100 not in text


def test_a_file_that_is_not_a_point_list_is_not_echoed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "root:$6$S3CR3TH4SH:19000:0:99999:7:::"
    (tmp_path / "pts.csv").write_text(secret + "\ndaemon:*:19000:0:99999:7:::\n")
    text = csv_issues(tmp_path)
    assert "not a point list" in text and "S3CR3T" not in text and "daemon" not in text
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN_TEXT.replace('area = { kind = "rectangle", origin_mm = [0, 0], '
                                      'size_mm = [50, 40] }', 'points_csv = "pts.csv"')
                    .replace("spacing_mm = 10", "").replace('pattern = "square"', "")
                    .replace('library = "products.toml"',
                             f'library = "{(BROKEN / "lib" / "products.toml").as_posix()}"'))
    out = json_issues(plan, capsys)
    assert "not a point list" in out and "S3CR3T" not in out


def test_a_binary_or_non_utf8_file_is_not_echoed(tmp_path: Path) -> None:
    (tmp_path / "pts.csv").write_bytes(b"x_mm,y_mm\n0,0\n\xff\xfeSECRET\n")
    text = csv_issues(tmp_path)
    assert "UTF-8" in text and "SECRET" not in text
    (tmp_path / "pts.csv").write_bytes(b"x_mm,y_mm\n0,0\x00SECRET\n")
    text = csv_issues(tmp_path)
    assert "not a text file" in text and "SECRET" not in text


def test_a_library_that_is_not_toml_is_not_echoed(tmp_path: Path) -> None:
    (tmp_path / "products.toml").write_text("root:$6$S3CR3TH4SH:19000:0:99999:7:::\n")
    with pytest.raises(PlanError) as ei:
        load_library(tmp_path / "products.toml")
    assert "TOML" in str(ei.value) and "S3CR3T" not in str(ei.value)


def test_the_point_cap_is_applied_while_reading() -> None:
    pulled = 0

    def endless() -> Iterator[str]:
        nonlocal pulled
        yield "x_mm,y_mm\n"
        for k in itertools.count():
            pulled += 1
            yield f"{k * 3},0\n"

    points, issues = parse_points_csv(endless())
    assert points == [] and any(f"<= {MAX_POINTS}" in str(i) for i in issues)
    assert pulled <= MAX_POINTS + 2  # stopped at the cap, not after the whole stream


def test_a_million_row_point_list_is_refused(tmp_path: Path) -> None:
    (tmp_path / "pts.csv").write_text("x_mm,y_mm\n" + "0,0\n" * 1_000_000)
    assert f"<= {MAX_POINTS}" in csv_issues(tmp_path)


def _million_row_plan(tmp_path: Path) -> Path:
    (tmp_path / "products.toml").write_text(LIB_TEXT)
    rows = "".join(f"{k % 100 * 3},{k // 100 % 100 * 3}\n" for k in range(1_000_000))
    (tmp_path / "pts.csv").write_text("x_mm,y_mm\n" + rows)  # 6 MB: under the file cap
    text = PLAN_TEXT.replace('area = { kind = "rectangle", origin_mm = [0, 0], size_mm = [50, '
                             '40] }\npattern = "square"\nspacing_mm = 10\n',
                             'points_csv = "pts.csv"\n')
    assert "points_csv" in text and "area" not in text
    (tmp_path / "plan.toml").write_text(text)
    return tmp_path / "plan.toml"


def test_plan_check_refuses_a_million_row_point_list_at_the_cap(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Measured, not asserted (benchmarks/bench_startup.py: plan_check_million_rows).
    plan = _million_row_plan(tmp_path)
    assert main(["plan", "check", str(plan)]) == 1
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    line = next(x for x in out.out.splitlines() if "too many points" in x)
    # field = value: message [limit], the line where reading stopped (right after the cap)
    assert line.strip() == (f"points_csv = 'more than {MAX_POINTS} points': too many points "
                            f"(stopped reading at line {MAX_POINTS + 2}) [limit: <= {MAX_POINTS}]")
    assert main(["plan", "check", "--json", str(plan)]) == 1
    issues = json.loads(capsys.readouterr().out)["issues"]
    assert [(i["field"], i["limit"]) for i in issues] == [("points_csv", f"<= {MAX_POINTS}")]
    assert str(MAX_POINTS) in issues[0]["value"]


def test_a_deeply_nested_toml_is_an_issue_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "plan.toml"
    path.write_text("zones = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(PlanError, match="nested too deeply"):
        load_plan(path)


def test_plan_and_library_with_a_byte_order_mark_are_read(tmp_path: Path) -> None:
    (tmp_path / "products.toml").write_bytes(b"\xef\xbb\xbf" + LIB_TEXT.encode())
    (tmp_path / "plan.toml").write_bytes(b"\xef\xbb\xbf" + PLAN_TEXT.encode())
    lib = load_library(tmp_path / "products.toml")
    plan = load_plan(tmp_path / "plan.toml")
    assert validate_plan(plan, lib).points
    (tmp_path / "pts.csv").write_bytes(b"\xef\xbb\xbfx_mm,y_mm\n0,0\n10,0\n")
    vp = validate_plan(make_plan(**CSV_PLAN), LIBRARY, base_dir=tmp_path)
    assert len(vp.points) == 2
    assert main(["plan", "check", str(tmp_path / "plan.toml")]) == 0


def test_references_may_leave_the_plan_folder(tmp_path: Path) -> None:
    """Documented decision: a clinic keeps one product library for many plans."""
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "products.toml").write_text(LIB_TEXT)
    (tmp_path / "patient").mkdir()
    (tmp_path / "patient" / "plan.toml").write_text(
        PLAN_TEXT.replace('library = "products.toml"', 'library = "../shared/products.toml"'))
    assert main(["plan", "check", str(tmp_path / "patient" / "plan.toml")]) == 0


def test_long_paths_and_issue_values_stay_bounded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN_TEXT.replace('library = "products.toml"', f'library = "{"a" * 100_000}"'))
    out = json_issues(plan, capsys)
    assert "library" in out and len(out) < 5000


def test_a_toml_file_that_is_not_a_library_is_not_echoed(tmp_path: Path) -> None:
    (tmp_path / "products.toml").write_text('[database]\npassword = "hunter2-S3CR3T"\n')
    with pytest.raises(PlanError) as ei:
        load_library(tmp_path / "products.toml")
    assert "not a product library" in str(ei.value) and "S3CR3T" not in str(ei.value)
