"""Names (zones, patient reference, product ids) that differ only by invisible or look-alike
characters: NFKC-normalised, and Unicode format (Cf) and control (Cc) characters refused."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesodrive.plan import PlanError, validate_plan

from .helpers import LIBRARY, make_plan


def rect(x: float, w: float) -> dict[str, Any]:
    return {"kind": "rectangle", "origin_mm": [x, 0], "size_mm": [w, 40]}


def fields_of(**changes: Any) -> str:
    with pytest.raises(PlanError) as ei:
        validate_plan(make_plan(**changes), LIBRARY)
    return str(ei.value)


@pytest.mark.parametrize("invisible", ["\u200b", "\u200d", "\u2060", "\ufeff", "\u202e",
                                       "\u00ad", "\x00", "\x1b", "\x7f", "\u0085", "\n"])
def test_zone_name_with_invisible_or_control_character_is_refused(invisible: str) -> None:
    zones = [{"name": "crown", "shape": rect(0, 20)},
             {"name": f"cro{invisible}wn", "shape": rect(20, 30)}]
    text = fields_of(zones=zones)
    assert "zones[1].name" in text and f"U+{ord(invisible):04X}" in text


@pytest.mark.parametrize("lookalike", ["ｃｒｏｗｎ", "crown\u00a0", "\u2003crown", "crown ", "ｃrown"])
def test_zone_names_equal_after_nfkc_are_duplicates(lookalike: str) -> None:
    zones = [{"name": "crown", "shape": rect(0, 20)}, {"name": lookalike, "shape": rect(20, 30)}]
    text = fields_of(zones=zones)
    assert "zones[1].name" in text and "same name as zones[0]" in text


def test_patient_ref_is_normalised_and_refuses_format_characters() -> None:
    assert make_plan(patient_ref="ＤＥＭＯ-0001").patient_ref == "DEMO-0001"
    with pytest.raises(PlanError, match=r"patient_ref.*U\+200B"):
        make_plan(patient_ref="DEMO\u200b-0001")


def test_product_reference_is_normalised() -> None:
    # A full-width product id in the plan is the same product once normalised.
    vp = validate_plan(make_plan(product="ｈａｉｒ-ｘ"), LIBRARY)
    assert vp.product.id == "hair-x"
    with pytest.raises(PlanError, match=r"product.*U\+2060"):
        make_plan(product="hair\u2060-x")


def test_override_reason_refuses_terminal_escapes() -> None:
    ov = [{"field": "volume_ul", "value": 70, "reason": "ok\x1b[2Jhidden"}]
    with pytest.raises(PlanError, match=r"overrides\[0\]\.reason.*U\+001B"):
        make_plan(overrides=ov)


def test_paths_refuse_control_characters() -> None:
    with pytest.raises(PlanError, match=r"library.*U\+0000"):
        make_plan(library="products\x00.toml")


BAD = st.characters(categories=["Cc", "Cf"])


@given(st.text(min_size=1, max_size=30))
def test_accepted_names_are_nfkc_and_visible(name: str) -> None:
    try:
        plan = make_plan(zones=[{"name": name, "shape": rect(0, 20)}])
    except PlanError:
        return
    got = plan.zones[0].name
    assert got == unicodedata.normalize("NFKC", got) and got.strip() == got and got
    assert not any(unicodedata.category(c) in ("Cc", "Cf") for c in got)
    # normalising is idempotent: a snapshot re-parsed gives the same name
    assert make_plan(zones=[{"name": got, "shape": rect(0, 20)}]).zones[0].name == got


@given(st.text(max_size=10), BAD, st.text(max_size=10))
def test_any_format_or_control_character_is_refused(a: str, bad: str, b: str) -> None:
    with pytest.raises(PlanError):
        make_plan(patient_ref=(a + bad + b)[:64] or bad)


def test_prose_and_labels_are_checked_but_recorded_as_written() -> None:
    """Rewriting a reason or a product's display name would change the hash of plans recorded
    before, so a session could no longer be resumed: they are only checked."""
    from mesodrive.plan import Product

    ov = [{"field": "volume_ul", "value": 70, "reason": " ½ dose,\nsee notes  "}]
    assert make_plan(overrides=ov).overrides[0].reason == " ½ dose,\nsee notes  "
    assert Product(id="p", name="Revital™ ½", indication="hair").name == "Revital™ ½"
    with pytest.raises(ValueError, match="U\\+200E"):
        Product(id="p", name="Revital\u200e", indication="hair")


@pytest.mark.parametrize("name", ["cr\u043ewn", "\u0441rown", "cr\u03bfwn"])  # Cyrillic/Greek o, c
def test_names_mixing_lookalike_scripts_are_refused(name: str) -> None:
    zones = [{"name": "crown", "shape": rect(0, 20)}, {"name": name, "shape": rect(20, 30)}]
    text = fields_of(zones=zones)
    assert "zones[1].name" in text and "look alike" in text


@pytest.mark.parametrize("name", ["корона", "στέμμα", "crown 2", "Stirn/Schläfe", "頭頂部",
                                  "20 μL boost"])
def test_names_in_one_script_are_fine(name: str) -> None:
    assert make_plan(zones=[{"name": name, "shape": rect(0, 20)}]).zones[0].name == name


def test_the_micro_sign_is_a_unit_not_a_lookalike() -> None:
    assert make_plan(zones=[{"name": "20 µL boost", "shape": rect(0, 20)}]).zones[0].name == (
        "20 μL boost")  # NFKC: MICRO SIGN -> GREEK SMALL LETTER MU
