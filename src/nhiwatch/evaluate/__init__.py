"""Measured quality: nhiwatch's alerts against the simulator's ground truth, beside two generic detectors."""

from nhiwatch.evaluate.metrics import Metrics, Span, score_spans
from nhiwatch.evaluate.run import Evaluation, evaluate, evaluate_store
from nhiwatch.evaluate.truth import Episode, load_truth

__all__ = [
    "Episode",
    "Evaluation",
    "Metrics",
    "Span",
    "evaluate",
    "evaluate_store",
    "load_truth",
    "score_spans",
]
