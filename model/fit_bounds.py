"""The GPU parameters calibration may fit, with their bounds (in the units of their config keys).

Its own module so that validation (which checks ``calibration.per_hardware`` against these keys)
and the calibration (which fits them) share one declaration without importing each other.
"""

# fitted per hardware type / shared by all; bounds in the units of the config keys
BOUNDS = {"bandwidth_efficiency": (0.02, 1.0), "layer_overhead_s": (0.0, 2e-3),
          "compute_efficiency": (0.01, 1.0), "prefill_efficiency": (0.005, 1.0), "prefill_overhead_s": (0.0, 2.0)}
