"""Calibration: the ISO 8655-6 gravimetric method with its uncertainty, depth and dose fits
that produce a driver `CalibrationProfile`, acceptance against `calibration/limits.toml`,
certificates, and the clients of the bench instruments (MT-SICS balance, depth gauge).

Layer: next to the controller; it may use driver, records and plan, nothing above them.
"""
