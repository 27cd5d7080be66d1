"""Evaluation of detectors against labelled benchmarks (NAB's scorer, its corpora, baselines to compare).

Evaluation is not detection: nothing in the service imports this package; the benches and tests do.
"""
