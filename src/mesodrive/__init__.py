"""mesodrive: control software for automated mesotherapy injectors.

Layers, lowest first (a layer never imports a higher one): `protocol` (wire format, link),
`driver` (transports, the injector session), then the controller, records, calibration and
the user interfaces (`cli`, console).
"""

__version__ = "0.1.0"
