"""Study settings for tests: every measurement on a few images, seconds instead of minutes."""

from actsparse.study.measurements import MeasureSettings

FAST = MeasureSettings(per_class=10, latency_images=20, latency_warmup=2, calibration_images=100,
                       swap_timing_images=4)
