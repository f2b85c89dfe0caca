"""The one boundary between public units (mm, µL, µL/s, mm/s, s) and wire integers
(µm, nL, nL/s, µm/s, ms). Nothing else in mesodrive converts."""

from __future__ import annotations


def mm_to_um(mm: float) -> int:
    return round(mm * 1000)


def um_to_mm(um: float) -> float:
    return um / 1000


def ul_to_nl(ul: float) -> int:
    return round(ul * 1000)


def nl_to_ul(nl: float) -> float:
    return nl / 1000


def s_to_ms(s: float) -> int:
    return round(s * 1000)


def ms_to_s(ms: float) -> float:
    return ms / 1000
