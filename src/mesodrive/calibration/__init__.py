"""Calibration: the ISO 8655-6 gravimetric method with its uncertainty, depth and dose fits
that produce a driver `CalibrationProfile`, acceptance against `calibration/limits.toml`,
certificates, guided runs, and the clients of the bench instruments.

Modules (one concept each):

* instruments: `balance` (MT-SICS client, `MtSicsBalance`), `sics` (reply parser),
  `gauge` (`DepthGaugeClient`), `serial_lines` (bounded line I/O);
* math: `environment` (`Environment`), `density` (water, air, Z), `gravimetric`
  (`evaluate_test_volume`, `EvaporationBlank`), `uncertainty` (GUM `budget`), `fits`
  (`fit_depth`, `fit_dose`, `profile_from`), `limits` (`load_limits`, `verify_dose`,
  `verify_depth`);
* records: `certificate` (`build_certificate`, `Certificate`), `certificate_html`
  (`render_html`), `profile_file` (`load_profile`, `save_profile`), `profile_records` (the
  profile in use and the new one, kept in the records database);
* runs: `device` (the Injector façade as a run sees it), `dose_run` (`GravimetricRun`),
  `depth_run` (`DepthRun`), `procedure` (`calibrate_dose`, `calibrate_depth`), `progress`.

Layer: next to the controller; it may use driver, records and plan, nothing above them, and
the simulator never imports it. Masses are mg and volumes µL inside; the balance and gauge
clients convert their readings at exactly one place each.
"""
