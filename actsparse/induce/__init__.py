"""Inducing sparse activations: penalties, k-winners-take-all, thresholds, ReLU-fication."""

from actsparse.induce.calibrate import Calibration, LayerCalibration, calibrate_thresholds
from actsparse.induce.calibration_io import load_calibration, save_calibration
from actsparse.induce.insert import insert_threshold, inserted_thresholds, remove_threshold
from actsparse.induce.kwinners import KWinners, KWinners2d
from actsparse.induce.magnitude import MagnitudeThreshold
from actsparse.induce.penalty import ActivationPenalty
from actsparse.induce.penalty_terms import hoyer_square_penalty, kl_penalty, l1_penalty
from actsparse.induce.relufy import Relufied, ShiftedReLU, relufy
from actsparse.induce.schedules import Constant, Progressive, WarmUp, make_schedule
from actsparse.induce.threshold import ThresholdReLU
from actsparse.induce.topk import TopK

__all__ = [
    "ActivationPenalty",
    "Calibration",
    "Constant",
    "KWinners",
    "KWinners2d",
    "LayerCalibration",
    "MagnitudeThreshold",
    "Progressive",
    "Relufied",
    "ShiftedReLU",
    "ThresholdReLU",
    "TopK",
    "WarmUp",
    "calibrate_thresholds",
    "hoyer_square_penalty",
    "insert_threshold",
    "inserted_thresholds",
    "kl_penalty",
    "l1_penalty",
    "load_calibration",
    "make_schedule",
    "relufy",
    "remove_threshold",
    "save_calibration",
]
