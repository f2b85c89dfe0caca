"""`mesodrive records show N --map out.png`: what actually happened at each point, drawn on
the plan's frame (issue 14)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mesodrive.cli import main
from mesodrive.cli.pictures import draw_outcomes
from mesodrive.cli.session_plan import recorded_plan
from mesodrive.records import RecordStore, point_outcomes
from tests.controller.conftest import write_plan

from . import face_session as face
from .helpers import filled_db

PNG = b"\x89PNG\r\n\x1a\n"


def _figure(db: Path, session: int = 1) -> Any:
    with RecordStore(db, readonly=True) as store:
        detail = store.session(session)
    recorded = recorded_plan(detail)
    return draw_outcomes(recorded.points, recorded.plan, detail, point_outcomes(detail))


def _drawn(fig: Any) -> dict[str, set[tuple[float, float]]]:
    """outcome word -> the positions drawn with its marker."""
    out: dict[str, set[tuple[float, float]]] = {}
    for coll in fig.axes[0].collections:
        gid = coll.get_gid() or ""
        if gid.startswith("outcome:"):
            out[gid.removeprefix("outcome:")] = {(float(x), float(y))
                                                 for x, y in coll.get_offsets()}
    return out


def _close(fig: Any) -> None:
    import matplotlib.pyplot as plt

    plt.close(fig)


@pytest.fixture(scope="module")
def face_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("map") / "r.db"
    face.face_session(path)
    return path


def test_each_point_is_drawn_once_with_its_outcome(face_db: Path) -> None:
    where = {p.point: (p.x_mm, p.y_mm) for p in face.face_plan().points}
    fig = _figure(face_db)
    drawn = _drawn(fig)
    expected = {
        "cut short": {where[n] for n in face.CUT_SHORT},
        "skipped": {where[n] for n in face.SKIPPED},
        "uncertain": {where[n] for n in face.UNCERTAIN},
        "not done": {where[n] for n in where if n >= face.NOT_DONE_FROM},
    }
    expected["delivered"] = set(where.values()) - set().union(*expected.values())
    assert drawn == expected
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert [label for label in labels if label not in ("area", "order")] == [
        "delivered (96)", "cut short (2)", "uncertain (1)", "skipped (1)", "not done (5)"]
    shares = sorted(t.get_text() for t in fig.axes[0].texts if t.get_gid() == "cut-short-share")
    assert shares == ["25 %", "60 %"]  # 5 and 12 of 20 µL
    title = fig.axes[0].get_title()
    assert "session 1: aborted" in title and "99 of 105 points given" in title
    assert "patient's left" in fig.axes[0].get_xlabel()  # the same frame as `plan show`
    _close(fig)


def test_without_a_stored_point_list_the_plan_places_the_points(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    face.face_session(db, with_points=False)  # restore_snapshot gives the positions
    drawn = _drawn(fig := _figure(db))
    assert sum(map(len, drawn.values())) == 105 and len(drawn["not done"]) == 5
    _close(fig)


def test_show_map_writes_the_picture(face_db: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "outcomes.png"
    assert main(["records", "--db", str(face_db), "show", "1", "--map", str(out)]) == 0
    assert out.read_bytes()[:8] == PNG
    captured = capsys.readouterr()
    assert f"wrote {out} (105 points)" in captured.err
    assert "what happened at each point" in captured.out  # the session is shown too


def test_a_plan_that_no_longer_validates_is_drawn_from_its_recorded_points(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "r.db"
    vp = face.face_plan()
    face.face_session(db, vp)
    # Rewrite the snapshot's plan hash as an older version might have computed it (the row's
    # chain hash is not what this test is about: `show` warns about that on stderr).
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER journal_no_update")
    (rowid, body), = conn.execute("SELECT id, body FROM journal ORDER BY id LIMIT 1")
    conn.execute("UPDATE journal SET body = ? WHERE id = ?",
                 (body.replace(vp.plan_hash, "0" * 64), rowid))
    conn.commit()
    conn.close()
    out = tmp_path / "m.png"
    assert main(["records", "--db", str(db), "show", "1", "--map", str(out)]) == 0
    err = capsys.readouterr().err
    assert "does not validate today" in err and out.read_bytes()[:8] == PNG


def test_a_session_without_positions_has_no_map(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "r.db"
    filled_db(db, 2)  # a plan snapshot without positions
    out = tmp_path / "m.png"
    assert main(["records", "--db", str(db), "show", "1", "--map", str(out)]) == 2
    assert "no recorded plan with point positions" in capsys.readouterr().err
    assert not out.exists()
    assert main(["records", "--db", str(db), "show", "1", "--map",
                 str(tmp_path / "no" / "m.png")]) == 2
    assert "cannot write the map to" in capsys.readouterr().err


@pytest.mark.slow
def test_map_of_a_session_run_on_the_simulator(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)  # 9 points at 2 shots/s: ~5 s on the real-time simulator
    db = tmp_path / "records.db"
    run = subprocess.run([sys.executable, "-m", "mesodrive", "run", str(plan), "--yes", "--db",
                          str(db)], capture_output=True, text=True, timeout=120,
                         stdin=subprocess.DEVNULL, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    out = tmp_path / "outcomes.png"
    assert main(["records", "--db", str(db), "show", "1", "--map", str(out)]) == 0
    assert out.read_bytes()[:8] == PNG
    fig = _figure(db)
    drawn = _drawn(fig)
    assert list(drawn) == ["delivered"] and len(drawn["delivered"]) == 9
    _close(fig)
    export = subprocess.run([sys.executable, "-m", "mesodrive", "records", "--db", str(db),
                             "export", "1", "--format", "json"], capture_output=True,
                            text=True, timeout=60, check=True)
    points = json.loads(export.stdout)["points"]
    assert len(points) == 9 and all(p["x_mm"] is not None and p["outcome"] == "delivered"
                                    for p in points)


def test_a_recorded_point_missing_from_the_map_is_named(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from .helpers import shot, start

    vp = face.face_plan()
    db = tmp_path / "r.db"
    with RecordStore(db) as store:
        snapshot = {"plan": vp.snapshot(),
                    "points": [{**p.__dict__} for p in vp.points[:3]]}  # a 3-point map
        sid = start(store, plan_snapshot=snapshot, plan_hash=vp.plan_hash)
        for i, point in enumerate((1, 2, 999)):
            store.record_shot(sid, shot(i, "done", point=point))
        store.end_session(sid, "completed", {})
    assert main(["records", "--db", str(db), "show", "1", "--map", str(tmp_path / "m.png")]) == 0
    err = capsys.readouterr().err
    assert "1 recorded point(s) are not on the plan's map and are not drawn: 999" in err
