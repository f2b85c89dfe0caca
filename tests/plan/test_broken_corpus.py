"""The broken-plan corpus: every file in broken/ states what must be reported (``# expect:``
lines); validation must raise PlanError naming it, and `mesodrive plan check` must exit 1
printing it."""

from __future__ import annotations

from pathlib import Path

import pytest

from mesodrive.cli import main
from mesodrive.plan import PlanError, validate_plan_file

from .helpers import BROKEN

CORPUS = sorted(BROKEN.glob("*.toml"))


def expectations(path: Path) -> list[str]:
    found = [line.split(":", 1)[1].strip() for line in path.read_text().splitlines()
             if line.startswith("# expect:")]
    assert found, f"{path.name} states no '# expect:' line"
    return found


def test_corpus_is_there() -> None:
    assert len(CORPUS) >= 30


def test_the_base_of_the_corpus_is_valid() -> None:
    vp = validate_plan_file(BROKEN / "lib" / "base_valid.toml")
    assert len(vp.points) == 25


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_broken_plan_is_refused_with_its_message(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(PlanError) as ei:
        validate_plan_file(path)
    text = str(ei.value)
    for fragment in expectations(path):
        assert fragment in text, f"{path.name}: {fragment!r} not in:\n{text}"
    for issue in ei.value.issues:  # every issue names its field and has a message
        assert issue.field and issue.message
    assert main(["plan", "check", str(path)]) == 1
    out = capsys.readouterr()
    for fragment in expectations(path):
        assert fragment in out.out + out.err
