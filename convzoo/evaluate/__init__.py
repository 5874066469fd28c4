"""Evaluation: robustness measures, shift equivariance, dense scanning, reports."""
