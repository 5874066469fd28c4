"""Evaluation: robustness measures, dense scanning, reports."""
