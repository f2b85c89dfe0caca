"""Certificates: the JSON holds every raw reading and round-trips; the HTML is one
self-contained printable page with both plots embedded and the verdicts shown."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from pathlib import Path

import pytest

from mesodrive.calibration.certificate import (
    Certificate,
    InstrumentRecord,
    build_certificate,
    depth_record,
    dose_record,
)
from mesodrive.calibration.certificate_html import render_html
from mesodrive.calibration.environment import Environment
from mesodrive.calibration.fits import DepthPoint, DosePoint, fit_depth, fit_dose, profile_from
from mesodrive.calibration.gravimetric import evaluate_test_volume
from mesodrive.calibration.limits import load_limits
from mesodrive.calibration.uncertainty import MeasurementUncertainties
from mesodrive.driver.calibration_profile import IDENTITY

LIMITS_FILE = Path(__file__).resolve().parents[2] / "calibration" / "limits.toml"
ENV = Environment(21.0, 1008.0, 45.0)
UNC = MeasurementUncertainties(readability_mg=0.01, balance_repeatability_mg=0.015)


def certificate(technician: str = "A. Technician", after_error_pct: float = 0.1) -> Certificate:
    limits = load_limits(LIMITS_FILE)
    z = 1.00307
    before, after = [], []
    for volume in (10.0, 20.0, 50.0):
        found = [(1.03 * volume - 0.12) / z + d for d in (-0.02, 0.0, 0.01, 0.02, -0.01)]
        left = [volume * (1 + after_error_pct / 100) / z + d for d in (-0.01, 0.0, 0.01)]
        before.append(dose_record(evaluate_test_volume(volume, found, ENV), volume, limits, UNC))
        after.append(dose_record(evaluate_test_volume(volume, left, ENV), volume, limits, UNC))
    depth_found = [DepthPoint(d, d, (0.955 * d + 0.12, 0.955 * d + 0.121)) for d in (1.0, 2.5, 4.0)]
    depth_fit = fit_depth(depth_found)
    dose_fit = fit_dose([DosePoint(r.volume_ul, r.commanded_ul, r.mean_ul) for r in before])
    profile = profile_from("bench", depth=depth_fit, dose=dose_fit)
    depth_left = [DepthPoint(d, profile.commanded_depth_mm(d), (d + 0.004, d - 0.002))
                  for d in (1.0, 2.5, 4.0)]
    return build_certificate(
        device_serial="MSD-0001", device_firmware="sim-1.0", technician=technician,
        limits=limits, limits_source=str(LIMITS_FILE), profile_before=IDENTITY,
        profile_after=profile,
        instruments=[InstrumentRecord(kind="balance", model="MESOSIM-B220", serial_number="B1",
                                      readability="0.01 mg"),
                     InstrumentRecord(kind="depth gauge", model="MESOSIM-DG", serial_number="G1",
                                      readability="0.001 mm")],
        environment=ENV, uncertainties=UNC, dose_before=before, dose_after=after,
        depth_before=[depth_record(p, limits) for p in depth_found],
        depth_after=[depth_record(p, limits) for p in depth_left],
        dose_fit=dose_fit, depth_fit=depth_fit,
        issued=dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC),
    )


def test_json_holds_everything_and_round_trips() -> None:
    cert = certificate()
    data = json.loads(cert.to_json())
    assert Certificate.model_validate_json(cert.to_json()) == cert
    assert data["passed"] is True
    assert data["expires"] == "2027-11-30"
    assert data["device_serial"] == "MSD-0001"
    assert [i["serial_number"] for i in data["instruments"]] == ["B1", "G1"]
    assert len(data["dose_before"][0]["masses_mg"]) == 5  # every raw reading
    assert data["depth_before"][0]["readings_mm"] == [pytest.approx(1.075), pytest.approx(1.076)]
    assert data["dose_before"][1]["verdict"]["passed"] is False  # +2.4 % as found
    assert data["environment"]["water_temperature_c"] == 21.0
    assert set(data["dose_after"][0]["uncertainty"]["components_ul"]) >= {
        "replicates (s/√n)", "balance readability", "water temperature", "evaporation"}
    assert data["profile_after"]["volume_gain"] == pytest.approx(1.03, abs=1e-3)


def test_a_failed_as_left_point_fails_the_certificate() -> None:
    assert certificate(after_error_pct=1.5).passed is False


def test_html_is_self_contained_with_plots() -> None:
    page = render_html(certificate())
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([^"]+)">', page)
    assert [alt for alt, _ in images] == ["dose error per volume", "depth error per depth"]
    for _, payload in images:
        assert base64.b64decode(payload).startswith(b"\x89PNG\r\n\x1a\n")
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "MSD-0001" in page and "2027-11-30" in page
    assert page.count('class="fail"') >= 3  # the as-found 10/20/50 µL (+2.x %) and depth
    assert '<p class="verdict">Result: <span class="pass">PASS</span>' in page


def test_html_escapes_what_people_type() -> None:
    page = render_html(certificate(technician="<script>alert(1)</script> & Co"))
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in page
