"""Detection quality, measured the way the benchmarks' authors measure it: NAB's scoring method.

Run with ``.venv/bin/python -m bench.bench_detection`` (``--workers N``, ``--no-write``, ``--only SUBSTRING``;
``--set NAME=VALUE`` overrides a :class:`detector.scoring.ScoreConfig` field for a trial, e.g.
``--set recurrence_min_count=2``, and never writes: the recorded figures are the defaults').

* **spendsentry**: every file of the shared NAB part and of the shared half of the Microsoft Cloud
  Monitoring corpus is replayed causally by :func:`detector.backtest.backtest_csv` — the code behind
  ``spendsentry backtest`` — with its defaults; the ``anomaly_score`` column it writes is scored.
* **The published NAB detectors** (NAB only): their per-row results as NAB publishes them.
* **Rolling median/MAD** (:mod:`bench.evaluation.median_mad`): a 288-point z-score written for the bench.

Every detector is scored by :mod:`bench.evaluation.nab_scorer` — NAB's method re-implemented and checked
against NAB's official scores (``tests/bench/test_nab_scorer.py``) — for the three profiles, each at the
threshold NAB's optimiser picks for it on that corpus; ours also at the service's fixed threshold (0.5),
and both corpora at one fixed threshold over a grid (the table the service threshold is chosen from).
Writes ``bench/results/detection.md`` and a chart, ``bench/results/detection.png``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pandas as pd

from bench.evaluation.corpora import (
    REFERENCE_DETECTORS,
    Corpus,
    ms_corpus,
    nab_corpus,
    official_scores,
    reference_results,
)
from bench.evaluation.median_mad import median_mad_scores
from bench.evaluation.nab_scorer import CorpusResult, SweptFile, evaluate, sweep_file
from bench.machine import describe
from bench.publish import publish
from detector.backtest import BACKTEST_CONFIG, backtest_csv
from detector.post_rules import DetectorConfig
from detector.scoring import ScoreConfig

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "detection.md"
CHART = REPO / "bench" / "results" / "detection.png"
PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
SERVICE_THRESHOLD = BACKTEST_CONFIG.threshold

# The score's constants (detector/scoring.py), how each was chosen, and what was tried and not kept.
# Chosen on the shared files only (NAB part + Microsoft odd half), with this scorer, never per file or
# per category; every figure is standard-profile NAB / Microsoft at the optimised threshold.
CHOICES = (
    "- Figures below are standard-profile NAB / Microsoft at the optimised threshold, measured with this "
    "scorer by an experiment harness over the same files while the design was chosen (not kept in the tree).",
    "- **Alarm score** (one alarm per event: the tail score where it tops the last 12 hours, ≥ 2 periods) "
    "instead of the raw score: the old detector went from 50.4 / 35.0 to 61.3 / 38.5 with this alone. "
    "Horizons tried: 2 h, 8 h, 12 h, 24 h; 12 h kept (24 h loses distinct events close together). "
    "Requiring an escalation within the horizon to carry 15% or 30% more decades of surprise: "
    "67.8 / 60.2 and 65.8 / 59.9 against 66.9 / 61.3 for any new high; not kept, since at NAB's "
    "optimised threshold for 15% (0.452) two rows of artificialNoAnomaly alarm, none with any new high.",
    "- **Alarm horizon at hourly and coarser steps: 6 h** (`alarm_hours_coarse`; 12 h below an hourly step, "
    "≥ 2 periods everywhere, so daily series keep 2 days). Hourly incidents come closer together in periods: "
    "Microsoft's hourly crash-rate and purchase files label runs 7 h apart, and a 12-period horizon let the "
    "first swallow the second. Microsoft 61.2 → 64.6 (crash-rate-1 68.5 → 81.5, purchase 50.6 → 64.7, "
    "latency 45.3 → 43.2), NAB unchanged (its files are 5-minute). Hourly horizons tried: 4, 6, 8, 12 periods "
    "(63.9, 64.6, 63.8, 61.2); a shorter or longer horizon for 1-minute series (6 h, 24 h) cost NAB 1.6 "
    "through its irregular traffic files and did not help Microsoft.",
    "- **Views and their combination**: deviation from the forecast and the trailing median (the old score's "
    "residual, peaks-over-threshold tail), robust z, same-phase twins, pattern novelty (nearest earlier "
    "window), range excess. Alone: deviation 58.8 / 47.9, twins 63.1 / 49.8, pattern novelty 54.8 / 30.1, "
    "robust z 40.4 / 60.1. Combined by the minimum (every view must find the point unusual) of deviation, "
    "z and twins, or the range excess: 64.9 / 60.8. The maximum, the mean, the median of three and a "
    "second-level calibration (HTM's likelihood idea) were each 2–15 points worse on one corpus or both; "
    "pattern novelty in the minimum gave NAB 69.1 but Microsoft 42.6 (its recurring crash spikes are "
    "labelled anomalies and the novelty view learns them), so it is not used.",
    "- **Tail estimator**: mean excess over the 90th percentile (honest for bursty metrics) with SPOT's "
    "exclusion of ≥ 3-decade points from the history (a spike must not teach the tail): 65.2 / 52.4 vs "
    "62.0 / 39.3 without exclusion; a robust spread of the body (50th–90th percentile) gave 53.1 / 55.6, "
    "a trimmed or median excess 41–62 / 44–50; exclusion at 2 or 4 decades, or three passes, was worse. "
    "Letting excluded points back after half a day (`exclude_days=0.5`): NAB 68.8 at its optimised "
    "threshold, but the best single threshold for both corpora drops to 0.45 and four rows of "
    "artificialNoAnomaly alarm there (NAB + Microsoft at the lowest threshold with none: 107.7 against "
    "115.4); not the default.",
    "- **Seasonal z** (`seasonal_periods` 3, `seasonal_z_per_decade` 8): the robust z of the point's distance "
    "to the median of its same-phase values (nearest row within 30 min, one a day, in the last 3 days; daily "
    "series: the same weekday within an hour, last 3 weeks), taken where it says more than the plain z. The "
    "plain z explained away every level inside the day's range (artificialWithAnomaly's half-height "
    "plateau and missing daily jump). NAB 66.9 → 70.5 (artificialWithAnomaly 39.5 → 70.3, the real "
    "categories unchanged), Microsoft 64.6 → 65.6. Tried: 3 or 7 periods (same NAB, Microsoft 65.6 / "
    "65.0), 4–14 σ per decade (NAB 70.5 from 4 to 8, 70.4 at 10, 68.7 at 14; Microsoft 65.2–65.7 from 6 up, "
    "63.6 at 4); replacing the plain z instead of topping it 65.4–69.9 / 63.8–66.2; the lower of the two "
    "64–66 / 66–67. Letting excluded tail points back after 0.5–2 days on top of it: NAB 71.0–72.1, "
    "Microsoft 64.8–65.6, but Microsoft's optimised threshold falls to 0.29 and its score at the service "
    "threshold from 56.0 to 44–46: not kept.",
    "- **Recurrence cap** (`recurrence_hours` 1, `recurrence_min_count` 3; :mod:`detector.recurrence`): "
    "the surprise of a point is at most −log10((k + 1) / (blocks + 1)) once k ≥ 3 earlier one-hour blocks "
    "of the tail window (one point per block at hourly and daily steps) reached its forecast residual, "
    "not counting the blocks of its own excursion. The exponential tail extrapolates from single points; "
    "bursts come in clusters, so a burst like several recent ones scored like a 1-in-1000 point. 55 of "
    "NAB's 69 false alarms at its optimised threshold were points some earlier point of the window had "
    "already matched. NAB 70.5 → 72.4 (artificialWithAnomaly 70.3 → 82.9, realTraffic 77.4 → 83.8, "
    "realAWSCloudwatch 67.4 → 64.9), Microsoft 65.6 → 67.8 (data-ingress 47.0 → 67.1, MongoDB −77.5 → "
    "48.6); at the service threshold 0.5, NAB 68.3 → 69.3 and Microsoft 56.0 → 56.6. Tried: blocks of "
    "0.5, 2 and 6 hours (NAB 71.5, 69.4, 68.4; Microsoft 67.7, 66.0, 67.7: with fewer blocks the cap "
    "falls under the alarm threshold for any repeat); k ≥ 1 or 2 (72.6 / 68.0 and 72.4 / 68.0, but a "
    "daily spend series would then stop alarming on its second similar spike in 8 weeks); capping with "
    "all four deviation residuals (73.0 / 64.9, Microsoft at 0.5 falls to 40) or with the trailing-median "
    "residual too (68.9 / 66.8, 4 artificialNoAnomaly alarms); the point-level count instead of blocks "
    "(69.6 / 67.1); also capping by the recurrence of the twin distance, of the trailing-median residual, or "
    "both (70.6 / 67.3, 67.6 / 67.9, 66.9 / 67.2).",
    "- **Routine repeats** (`repeat_share` 0.25, `repeat_min` 2; :func:`detector.views.same_phase_twins`): "
    "the twin view finds no novelty where the nearest same-phase value of at least two earlier periods lies "
    "within a quarter of the point's distance from the trailing median. Twin distances were judged only "
    "against other twin distances, which are a noise step on a calm series, so a nightly job's spike that "
    "differed from the night before by one quantisation step still scored 1.4–2.5 decades (NAB's "
    "ec2_cpu_utilization_c6585a alarmed on it four nights running). NAB 72.4 → 74.4 (realAWSCloudwatch "
    "64.9 → 68.2), Microsoft 67.8 → 68.4, no alarm on artificialNoAnomaly. Tried: shrinking every twin "
    "distance by a share of the excursion instead of counting repeats (share 0.05–0.3: NAB 71.6–75.6, "
    "Microsoft 63.3–67.6), one repeat instead of two (0.1: 74.5 / 67.7), three (0.1: 73.6 / 67.8), shares "
    "0.1–0.35 with two repeats (73.2–74.4 / 68.2–68.6), the excursion measured from the forecast "
    "(74.5 / 67.6); also, on top: a recurrence cap that counts blocks within 10–20% of the magnitude "
    "(71.4 / 68.7, 69.8 / 68.9) or scales the cap by 0.7–0.85 (71.7–73.2 / 68.2–68.8); a generalised "
    "Pareto tail (shape by moments, at most 0.1–0.6) instead of the exponential one (72.5–74.3 / "
    "67.8–68.3); alarms after one day of intraday history instead of two (74.1 / 69.0).",
    "- **Robust z**: 288 points, 4 σ per decade (2 σ: 65.2 / 57.4; 1 σ: 67.9 / 56.5); the mean-deviation "
    "scale only where the MAD is 0 (+1.7 on NAB against using it as a floor everywhere).",
    "- **Range excess**: 20 decades per width of the range so far, after 200 points (10 per width: "
    "−1.4 / −1.2; 50 or 200 points: same scores).",
    "- **Service threshold** (first choice, kept: see the last two entries): the tail score maps ``s`` "
    "decades to ``s / (s + 1.5)``; 0.5 (1.5 decades) was the single threshold with the best NAB + Microsoft "
    "total among 0.25–0.75 in steps of 0.025, and the lowest there with no alarm on artificialNoAnomaly.",
    "- **Tried and not kept (this round)**, standard NAB / Microsoft. Against 66.9 / 61.2 (the 12 h horizon "
    "everywhere): the minimum of deviation and twins without the robust z 70.0 / 53.1, with 1.5× or 2× "
    "the z 69.3 / 58.3 and 69.0 / 57.0; capping every view at the empirical rarity of the residual in "
    "its window (no extrapolation below the window's maximum) 67.7 / 62.0, with 2 artificialNoAnomaly "
    "alarms; a remembered alarm that a new one within 1–4 days must top 49–59 / 45–57; the range view "
    "×2 or ×5 and the other views ×0.6–0.8: 66.1–68.5 / 61–62.5. Against 66.9 / 64.6 (the hourly "
    "horizon): pattern novelty (nearest earlier window of 6–12 points, tail-calibrated) added by the "
    "maximum at ×0.5–1.0 61.6–68.9 / 37–51, or bounded by deviation and twins 66.9–68.7 / 60.5–63.6; "
    "the recent mean of the surprise (HTM's short-window likelihood idea) added by the maximum "
    "46.6–68.8 / 26–60. The gap to the published detectors on NAB is in missed windows (a level change "
    "inside the daily cycle, spike clusters within the usual range) and false alarms on bursty series; "
    "none of these closed it without losing more on Microsoft.",
    "- **Cold start in the replay**: alarms once two days (intraday) or two weeks (daily) of history are "
    "seen, not when the seasonal fit leaves its own cold start (a week of hourly points): Microsoft "
    "56.1 → 61.6, NAB unchanged.",
    "- **Tail history** (`tail_days` 14; 7 days is already the 2016-point cap for NAB's 5-minute files, so "
    "only hourly series move): 7, 21, 28 and 42 days gave Microsoft 66.0, 69.1, 69.8 and 65.7 against 68.3, "
    "NAB 74.3 throughout. Not monotonic, because the tail's own cold start (an eighth of its window) grows "
    "with it and moves which early windows are seen; the best of these is within what a change of cold "
    "start alone moves, and 28 days would also double an hourly sweep's lookback: not kept. The deviation "
    "view's second time scale (`short_window` 6): 3 points 73.7 / 67.6, 12 points 74.4 / 68.5: not kept.",
    "- **Tried against 74.3 / 68.3 and not kept** (issue 15's 78 on NAB not reached; an experiment harness "
    "that feeds the replay's causal forecasts through the same score and post-rules, and reproduces "
    "74.3 / 68.3 and every category exactly; `@ 0.5` is the score at the service threshold, 69.4 / 56.6 "
    "today): escalating only on 15% or 30% more decades 72.5 / 69.0 and 70.2 / 70.1; a recurrence count "
    "of 2 74.3 / 68.3 (NAB @ 0.5 65.9); a block counted as a recurrence when it came within 2% or 5% below "
    "the magnitude (bursts that grow slowly are each a record by a hair: four to six earlier bursts of "
    "`ec2_disk_write_bytes_1ef3de` within 1% below an alarm counted as none) 72.4 / 68.3 and 71.8 / 68.6; "
    "points the recurrence cap already counts as recurring kept in the tail history (SPOT's exclusion for "
    "the others only) 74.6 / 67.5 (data-ingress 67.1 → 51.6); excluded points let back after 2 or 4 days "
    "74.8 / 68.4 and 74.4 / 68.1, but Microsoft @ 0.5 46.6 and 49.0 (its optimised threshold 0.29); twins "
    "within ±45 or ±60 minutes 74.7 / 68.2 (NAB @ 0.5 68.4) and 73.6 / 66.8; twins over 14 days "
    "72.8 / 65.0; the robust z over 576 or 144 points 74.1 / 68.1 (MongoDB −17.4) and 74.4 / 66.1; the "
    "recurrence cap applied to the combined surprise (k ≥ 3 or ≥ 1) 73.6 / 68.3 and 73.8 / 68.3; alarms "
    "after three days of intraday history 70.8 / 67.4. Where the missing points are, at 0.452: of the six "
    "missed windows, iio's two lie in its first 31 hours (the tail has no history yet and a spike precedes "
    "the first window), `fe7f93`'s third shows no change in two-hour mean, minimum, maximum or spread, "
    "`c0d644`'s third is a run of zeros in a series that is zero most of the time (a longer unlabelled run "
    "comes days earlier), and `TravelTime_451` stays below 0.40 in its window (contextOSE catches it). "
    "`cc0c53`'s second holds a spike to 19.2, the highest since a level shift 6 → 14.5 two days earlier, "
    "that the twin view explains away (0 decades, with a twin distance of 3 and no repeat): the shift's "
    "day of large twin distances is more than a tenth of the twin tail's window, so the 90th percentile "
    "jumps and the two-pass exclusion lets them into the history; contextOSE catches it. The exclusion run "
    "sequentially, as SPOT runs it (each point judged against a history without the points flagged before "
    "it), measured with a per-point loop: on the twin view only 75.4 / 68.0 (cc0c53 caught, "
    "realAWSCloudwatch 68.2 → 70.4; @ 0.5 69.0 / 57.2; no artificialNoAnomaly alarm), on every tail "
    "74.9 / 67.4: shipped since, see the next entry. Of the "
    "69 false alarms (−7.5 points), 20 fall in days 2–4 of their files and most are bound by the deviation "
    "view on bursty series (1ef3de 11, grok 9, 5abac7 7, TravelTime_387 7). "
    "`art_increase_spike_density`'s window is caught at 0.46 against the threshold 0.452 and is lost by "
    "most of the variants above: a NAB difference under 1.6 points can be that one window.",
    '- **SPOT\'s exclusion run point by point on the twin view** (`twin_exclusion` "sequential"; '
    ":mod:`detector.sequential_tail`, compiled with numba; the deviation view's tails keep the two passes): "
    "each twin distance is judged against a history without the distances flagged (≥ 3 decades) before it, "
    "as SPOT runs it, instead of without those a first pass over the whole history flags. The day of large "
    "twin distances after a level shift is then kept out as it comes and no longer lifts the tail's 90th "
    "percentile over a spike that follows (`cc0c53`'s second window caught). Against the two passes, "
    "measured by the same harness (which reproduces the replay's figures exactly): NAB 74.3 → 75.4 "
    "(realAWSCloudwatch 68.2 → 70.4; artificialWithAnomaly 82.9 → 82.0 and realTraffic 83.6 → 83.1 at "
    "the optimised threshold, now 0.456 instead of 0.452), Microsoft 68.3 → 68.0; at the "
    "service threshold 0.5, 69.4 → 69.0 and 56.6 → 57.2; no alarm on artificialNoAnomaly. The daily "
    "incident loop (`python -m bench.bench_incidents --granularity daily --no-write`) gives the same "
    "outcome row for row before and after, every criterion met. The compiled pass costs less than the "
    "numpy two passes it replaces on that view (CPU per call, both in one process: 21 µs against 202 µs "
    "for a 90-point daily request, 7.4 ms against 143 ms for 4,032 five-minute points, 4.7 ms against "
    "17.9 ms for a sweep block of 200 series × 120 days). Tried with it and not kept: the twin view's "
    "exclusion at 2, 2.5 or 4 decades (75.2 / 67.7, 75.3 / 67.9, 75.7 / 67.6 with data-ingress 68.0 → "
    "51.6 and NAB @ 0.5 67.3); the sequential exclusion also on the deviation view's forecast-residual "
    "rows, its trailing-median rows, or only the point-level row of either (74.9 / 67.3, 75.0 / 67.4, "
    "74.9 / 67.2, 75.0 / 67.4); the recurrence cap not counting the blocks of the last 3, 6 or 12 hours "
    "(a cluster of spikes is one event, not its own recurrence: 75.4 / 67.9, 75.4 / 67.8, 75.2 / 67.8; "
    "`TravelTime_451`'s window stays missed, its spikes each no larger than earlier ones); a density view, "
    "the count of points over the forecast-residual tail's threshold in the last 1, 2 or 4 hours judged "
    "against its own tail and added by the maximum at ×1 or ×0.5 (61.6–71.7 / 33.9–55.4, with 6–14 "
    "artificialNoAnomaly alarms). Where the points are now, at NAB's optimised threshold 0.456: five missed "
    "windows cost 10.0 (iio's two in its first 31 hours, `fe7f93`'s third, `c0d644`'s third, "
    "`TravelTime_451`), detections after a window's first row 6.5 (about 0.15 a window for a detection at "
    "the labelled point, which a causal detector cannot beat, and 0.94 for `53ea38`'s first window, caught "
    "at its end), 75 false-alarm rows 8.1 (`1ef3de` 1.2, grok 1.0, `5abac7` 1.0, `TravelTime_387` 0.8, "
    "`art_load_balancer_spikes` 0.7, `fe7f93` 0.7). The false alarms are spikes of 3–30 decades on series "
    "whose every spike is kept out of the tail and reached by fewer than three earlier hours; "
    "`5abac7`'s labelled spike (5.29e6) is as high as the unlabelled ones before it. Also tried with it and "
    "not kept: routine repeats within 0.2, 0.3, 0.35 or 0.4 of the excursion (75.4 / 67.9, 75.6 / 68.2, "
    "74.2 / 68.3, 74.3 / 68.5: 0.3 is a peak of +0.2 between cliffs, realTraffic losing a window from 0.35 "
    "on), 0.3 with three repeats (74.9 / 67.9); twins over 5 or 10 periods (75.0 / 66.4, 75.5 / 66.1); "
    "the deviation view's decades scaled by the share of its tail window already seen, to the power 0.25 or "
    "0.5 (75.5 / 67.5 with NAB @ 0.5 67.1, 74.0 / 67.6).",
    "- **Service threshold, re-checked** on the shipped detector (single threshold for both corpora, "
    "0.25–0.75 in steps of 0.025): no row of artificialNoAnomaly alarms anywhere in that range, and the "
    "best NAB + Microsoft total is now at 0.425 (NAB 73.3, Microsoft 63.4, total 136.6) against 126.2 at "
    "0.5 (69.0 / 57.2); with the two-pass twin view it was already 0.425 (72.0 / 62.6, 134.6 against "
    "126.0), so the 0.5 of the entry above predates later changes of the score. Not changed here: the "
    "threshold is also what flags billing periods, so a change must be re-checked with both incident loops "
    "(no false page or ticket) first.",
    "- **A log-scale deviation view, tried and not kept** (issue 15, against 75.4 / 68.0): the forecast and "
    "trailing-median residuals of a non-negative series after ``log(x + level)`` (``level`` the trailing "
    "median magnitude: linear below the typical level, logarithmic above it, so a multiplicative burst is "
    "judged against earlier bursts in ratio terms), through the same tails and Bonferroni correction. In the "
    "minimum with the linear deviation (every view must find the point unusual, to drop bursty false "
    "alarms) 74.2 / 59.8 (artificialWithAnomaly 82.0 → 73.6, crash-rate-2 71.5 → 50.8, purchase 58.4 → "
    "43.8: a level shift or a crash spike is a small ratio on a high level); taken where it says more than "
    "the linear one (to catch dips and runs near zero) 74.8 / 68.2 (realAWSCloudwatch 70.4 → 69.4, "
    "latency 48.9 → 46.9, MongoDB 65.1 → 59.6, crash-rate-2 71.5 → 74.6): neither gains on both corpora.",
    "- **Service threshold 0.45, tried and undone** (see the next entry; issue 15), chosen by a rule: of the fixed "
    "thresholds 0.25–0.75 in steps of 0.025, the one with the best NAB + Microsoft standard total at that "
    "one threshold (the table under *The service threshold* above), among those where no row of "
    "artificialNoAnomaly alarms and both billing incident loops (`python -m bench.bench_incidents "
    "--granularity daily --no-write`, and `hourly`) still meet every criterion. The rule reads a corpus "
    "total at a fixed threshold, not either corpus's optimised threshold. 0.425 has the best total (73.3 + "
    "63.4 = 136.6) but fails the daily loop: the slow drift `drift-data-s3` raises two tickets (two incidents "
    "for one problem; 34 ticket webhooks; the hourly loop passes there, 38). 0.45 is next (75.1 + "
    "58.3 = 133.3 against 69.0 + 57.2 = 126.2 at 0.5; within 3.5 of the best, as 0.375–0.45 are) and "
    "both loops meet every criterion: daily the same outcome as at 0.5 row for row (28 ticket webhooks "
    "against 25, 13 incidents watched against 9), hourly likewise (37 webhooks against 36, 43 watched against 34). "
    "The scores do not change (the threshold only decides), so every figure at an optimised threshold "
    "stays; by category at the service threshold against 0.5: artificialWithAnomaly 74.5 → 82.0, "
    "realAWSCloudwatch 61.0 → 69.7, realTraffic 83.8 → 83.6, crash-rate-1 70.2 → 73.1, crash-rate-2 "
    "51.5 → 52.6, latency 55.5 → 58.7, data-ingress 75.3 → 74.4, purchase 26.9 → 14.3 (3 files), MongoDB "
    "92.6 → 81.6 (2 files): five of nine categories gain, NAB +6.1 and Microsoft +1.1 in all. Costs: Gaussian noise alarms 10 times in 12,000 "
    "points against 7 (`tests/detector/test_scoring.py`), and the recurrence cap, which is in decades, "
    "silences a burst only after about twice as many earlier hours of its size (9 instead of 5 in a "
    "5-minute series' week, 19 instead of 10 in an hourly series' two weeks; "
    "`tests/detector/test_recurrence.py`: a burst every 21 hours is capped to 0.49–0.52). An event that "
    "opened goes on while its sustaining score holds the same threshold; the sweep's opening on sustained "
    "evidence alone keeps its own 0.6.",
    "- **Service threshold back to 0.5** (the entry above, undone before it shipped): the daily incident loop "
    "on a second generated year (`python -m bench.bench_incidents --granularity daily --seed 2 --no-write`) "
    "fails at 0.45 the way the first year failed at 0.425: the slow drift `drift-data-s3` raises two tickets "
    "(one page or ticket per problem: no; 36 ticket webhooks), while at 0.5 the same year meets every "
    "criterion (30 webhooks). A threshold that holds on one generated year and not the next is at the edge "
    "of what billing tolerates, and billing is what the threshold decides; 0.5 passes both years. The NAB "
    "and Microsoft figures at optimised thresholds do not depend on it. The single-threshold table stays in "
    "the bench: a lower threshold needs a drift that lingers near it to stay one incident first.",
    "- **Recurrence counted on the point's own side** (issue 15; :func:`detector.scoring._recurrence_caps`): "
    "monitoring both sides, a residual above the forecast is capped only by earlier blocks whose residual "
    "*above* it reached its size, and one below by blocks below, instead of by every block whose absolute "
    "residual did. A forecast that overshot a quiet series (a refit's blunder, or its echo after a burst) "
    "made later jumps above it look routine: `TravelTime_451`'s eight-hour surge (values to 2,988 against "
    "a typical 150–400) stayed at 0.40 because a refit had once forecast 4,244 against values near 300. "
    "Monitors of one side (billing's `up`) are unchanged. NAB 75.4 → 76.9 (realTraffic 83.1 → 89.5: "
    "`TravelTime_451` caught, two windows caught earlier; 12 more false-alarm rows), Microsoft 68.0 → 67.4 "
    "(data-ingress 68.0 → 55.2, MongoDB 65.1 → 54.2, crash-rate-2 71.5 → 73.4, purchase 58.4 → 56.0); at "
    "the service threshold 0.5, 69.0 → 68.6 and 57.2 → 56.7; no artificialNoAnomaly alarm. Tried with it "
    "and not kept: the other side's blocks counted at half weight (75.2 / 67.9: the old trade back); the "
    "deviation view's tails also split by side (76.1 / 67.1); the twin view's tail split by side "
    "(76.7 / 66.9); one knob at a time on top (NAB / Microsoft, @ 0.5 in brackets where it moves): "
    "`repeat_share` 0.3 77.2 / 67.6, 0.35 75.7 / 67.7; `repeat_min` 1 or 3 75.9 / 65.8, 76.1 / 67.3; "
    "`z_per_decade` 3 or 5 74.8 / 65.7, 75.8 / 67.2; `seasonal_z_per_decade` 6 or 10 75.4 / 67.3, "
    "76.9 / 67.4; `short_window` 3 or 12 76.1 / 66.8, 76.7 / 67.6 (55.9); `alarm_hours` 8 or 16 "
    "76.3 / 67.3, 73.7 / 67.4; `recurrence_min_count` 2 or 4 75.0 / 67.4 (NAB 63.2), 77.1 / 67.4; "
    "`recurrence_hours` 0.5 or 2 73.8 / 67.2, 74.5 / 66.8; `exclude` 2.5 or 3.5 76.8 / 67.0, 77.0 / 68.1; "
    "`exclude_days` 2 77.6 / 67.3 (Microsoft @ 0.5 46.1); `context_tolerance_minutes` 45 77.4 / 67.4 "
    "(NAB 67.4); `context_periods` 5 or 10 76.4 / 65.7, 77.2 / 65.4; `z_window` 144 or 576 77.0 / 65.4, "
    "76.5 / 67.5; `seasonal_periods` 5 76.9 / 67.4; `escalate_ratio` 0.3 or 1.0 72.1 / 69.8, 62.4 / 66.5. "
    "Two of them together, `repeat_share` 0.3 with `context_tolerance_minutes` 45, reach 77.9 / 67.5 "
    "(NAB @ 0.5 67.6): each alone was already a peak of a few tenths between cliffs (see the entries "
    "above), a fit to these files rather than a method, so not kept.",
    "- **An ensemble with CAD OSE, estimated before building it** (issue 15): the feasibility of a second "
    "detector family, measured offline by combining the replay's per-row `anomaly_score` with the published "
    "per-row scores of contextOSE (NAB's CAD OSE, 77.0 standard here) through this scorer. The best "
    "combinations, the maximum of ours and 0.675–0.85 × CAD's score, reach 78.0–78.7 (78.7 at 0.85; the "
    "mean 74.0–76.5, the geometric mean 62.0, a threshold-aligned maximum 76.0, a per-file rank maximum "
    "66.8), but every one of them alarms on artificialNoAnomaly (2–5 rows at its optimised threshold): "
    "CAD OSE scores 0.58–0.83 on rows of four of its five files (the square wave every day). At the best "
    "threshold with no such alarm the ensemble scores 72.9–73.3, below ours alone, and with HTM's or "
    "ARTime's scores instead at most 76.8 and 75.1. Against ours at 75.4 before the entry above, and at "
    "76.9 after it, the published CAD OSE adds at most 1.8–3.3 points and only by alarming on series "
    "without anomalies, so it was not implemented. Of our missed windows, iio's two, `fe7f93`'s third and "
    "`c0d644`'s third are missed by CAD OSE, HTM and ARTime too; `TravelTime_451`, which CAD OSE caught, "
    "is caught by the entry above. A cold-start detector for iio's first day cannot help either: its "
    "first window opens 70 minutes after a spike 30 times the level before it (the first rows after the "
    "probation), so a detector that saw that spike alarms on it, before the window, and the window's "
    "lower values cannot top it within an alarm's horizon; the second window's spike (13.8 M) comes 11 h "
    "after the first (39.7 M).",
    "- **An escalation needs the event to grow** (issue 15; :func:`detector.scoring.escalation`, the score's "
    "alarm and the post-rules' one): within an alarm's horizon, a new high of the tail score alarms again "
    "only where the point's distance from the forecast (the impact, in the post-rules) tops that of the "
    "horizon's highest score (the first of them on a tie). A higher score for an excursion no larger says "
    "that the calibration moved (the spike before it was kept out of the tail history, a recurrence count "
    "or a twin changed), not that the incident got worse, and a pager escalates on severity, not on a "
    "re-estimate. Bursty series re-alarmed on such moves: `5abac7`'s spikes of 5.24–5.37e6 hours apart "
    "alarmed at 0.46, 0.60, 0.80 and 0.92 in turn, the last one smaller than the one before. No new "
    "constant. NAB 76.9 → 77.5 (realAWSCloudwatch 70.0 → 70.7, realTraffic 89.5 → 90.3, "
    "artificialWithAnomaly 82.0 unchanged; no window lost or detected later: six false-alarm rows fewer, "
    "in five files), Microsoft 67.4 → 68.4 (purchase 56.0 → 59.2, data-ingress 55.2 → 61.6, latency "
    "47.2 → 48.8, MongoDB 54.2 → 59.6, crash-rate 84.7 and 73.4 → 73.5, none lower); at the service "
    "threshold 0.5, NAB 68.6 → 69.1 and Microsoft 56.7 → 57.0; low-FP profile 68.1 → 69.5 and 57.3 → 58.9, "
    "low-FN 81.9 → 82.4 and 74.2 → 74.9; no artificialNoAnomaly alarm; the billing incident loops "
    "(`bench.bench_incidents`, daily with seeds 7 and 2, and hourly) give the same outcome row for row as "
    "before, every criterion met. With the alarm horizons moved "
    "(`alarm_hours` 9 or 16, `alarm_hours_coarse` 4.5 or 8) the gain holds against the same horizons "
    "without it: NAB +0.4 to +0.7, Microsoft +0.9 to +1.0. Tried and not kept: the largest excursion of "
    "the horizon as the reference instead of the highest score's (77.6 / 68.6, but NAB at 0.5 67.4); the "
    "highest score's only when on the same side (77.2 / 68.3); the point's excursion or its 6-point mean "
    "grown (77.4 / 67.7). How much growth: ×0.9 or ×0.95 of the reference 77.2 / 67.8–67.9; ×1.05, 1.1 "
    "and 1.25 74.0 / 69.2, 74.2 / 69.6, 71.3 / 68.5, losing the windows caught by an escalation by a hair "
    "(`77c1ca`'s CPU saturated at 99.5–99.7%, `art_increase_spike_density`'s spikes all at 20, `grok`'s "
    "second). The rule is any growth, not a margin: a saturated metric can show no more than a hair, a "
    "margin below 1 gives back half the gain and one above 1 trades NAB windows for Microsoft's false "
    "alarms; the gain rests on the rule's definition, with that edge on its high side. Also tried on top "
    "(issue 15's burstiness idea) and not kept: a spike-rate cap, the surprise capped at "
    "−log10((m + 1) / (blocks + 1)) once m ≥ 3, 6 or 12 earlier hourly blocks of the tail window held a "
    "point the deviation view put at ≥ 3 decades (the spikes SPOT keeps out): 75.4 / 68.0, 75.5 / 67.8, "
    "75.0 / 68.5, with Microsoft at 0.5 falling to 46–51 and artificialWithAnomaly to 72–73; it silences "
    "records too, and a weekly record is 2.2 decades in hours however bursty the series.",
    "- **A new burst must top the horizon's earlier bursts** (issue 15; "
    ":func:`detector.scoring.escalation`, the score's alarm and the post-rules' one): within an alarm's "
    "horizon, a point that opens a new excursion (its run of points on one side of the forecast began "
    "after an earlier point of the horizon: the series came back across its forecast and went out again) "
    "alarms again only where its excursion also tops every excursion of the horizon before that run, "
    "whatever those scored; within one run the rule of the entry above stands (the excursion at the "
    "horizon's highest score). A burst no larger than one the horizon already covers is not a worse "
    "incident, even where the calibration now scores it higher (a burst kept out of the tail history, or "
    "one that scored low because a recurrence or a twin explained it); within a run the earlier points "
    "are the same excursion growing, so a low-scored deeper point of it does not hold back the run's "
    "later alarm. No new constant; the escalation is given the signed excursion (the post-rules' impact "
    "already was). NAB 77.5 → 78.1 (realAWSCloudwatch 70.7 → 71.6, artificialWithAnomaly 82.0 and "
    "realTraffic 90.3 unchanged; five false-alarm rows fewer: `c6585a` 2, `24ae8d`, `fe7f93`, `5abac7` 1 "
    "each; no window lost, `speed_7578`'s second detected one row later, −0.02), Microsoft 68.4 → 68.9 "
    "(data-ingress 61.6 → 68.0, MongoDB 59.6 → 76.1, the other four categories unchanged); at the "
    "service threshold 0.5, NAB 69.1 → 69.3 and Microsoft 57.0 → 57.2; low-FP profile 69.5 → 70.6 and "
    "58.9 → 59.6, low-FN 82.4 → 82.7 and 74.9 → 75.2; no artificialNoAnomaly alarm; the windows caught "
    "by an escalation by a hair (`77c1ca`, `art_increase_spike_density`, grok's) are kept. The billing "
    "incident loops (`bench.bench_incidents`, daily with seeds 7 and 2, and hourly) give the same "
    "outcome row for row as before, every criterion met (daily, seed 7: 10 PagerDuty events and 25 "
    "ticket webhooks; seed 2: 10 and 30; hourly: 7 and 36). With the horizons moved, against the same "
    "horizons without it: `alarm_hours` 9 NAB 76.6 → 77.0, Microsoft 68.4 → 68.8; `alarm_hours_coarse` "
    "4.5 or 8 NAB +0.5, Microsoft 67.9 → 68.4 and 67.6 → 68.1; but `alarm_hours` 16 NAB 74.3 → 71.4 "
    "(Microsoft 68.3 → 68.8): two more windows (`24ae8d`'s second, `5abac7`'s second) come within 16 "
    "hours of a larger earlier burst (`24ae8d`: a spike to 1.53 that scored 0, 13.6 h before the "
    "window's 0.60), so the rule binds to a horizon of about half a day, as the horizon itself was "
    "chosen. Tried first and not kept (issue 15's noise-margin idea): the growth over the reference "
    "required to exceed a noise scale of the series in its own units, k robust σ with k 0.25, 0.5, 1 or "
    "2, σ from the MAD of the forecast residuals over the tail window (74.2 / 69.2, 74.4 / 68.9, 72.8 / "
    "67.2, 72.5 / 65.9), over the last 288 points (75.7 / 69.0, 74.6 / 69.0, 74.9 / 67.0, 73.8 / 67.4), "
    "or from the median absolute first difference over the tail window (75.6 / 68.6, 75.7 / 69.0, 75.6 / "
    "69.5, 73.8 / 68.7): grok's first window is caught by a dip 0.017 deeper than the one before it "
    "against a σ of 0.12 and is lost by every variant (the residual MAD over the tail window also loses "
    "`77c1ca`'s and `art_increase_spike_density`'s), while the bursty series' escalating false alarms "
    "grow far beyond the body's noise (`5abac7`: σ 28 against growths of 10⁴–10⁵), so few of them go. "
    "Also not kept: both points measured from the same forecast, the current one or the reference's "
    "(74.6 / 67.7, 74.6 / 67.6: `art_daily_flatmiddle`'s flat day at 40 grows only as the forecast "
    "moves, and its window is lost); the horizon's highest *alarm* (not score) as the reference of both "
    "the score and the excursion (77.5 / 68.1), or of the excursion only (77.5 / 68.6); the largest "
    "excursion of the whole horizon, runs aside (the entry above: 78.1 / 69.2, but NAB at 0.5 67.5, "
    "`speed_7578`'s third window lost there because a deeper point of the same drop had scored 0.42).",
)


def run_backtest(args: tuple[str, str, str, DetectorConfig]) -> tuple[str, np.ndarray, float]:
    key, in_path, out_dir, config = args
    out = Path(out_dir) / key.replace("/", "__")
    started = time.perf_counter()
    backtest_csv(Path(in_path), out, config=config)
    seconds = time.perf_counter() - started
    return key, pd.read_csv(out)["anomaly_score"].to_numpy(dtype=np.float64), seconds


def swept(corpus: Corpus, scores: dict[str, np.ndarray]) -> list[SweptFile]:
    out = []
    for key in corpus.keys:
        frame = corpus.read(key)
        out.append(sweep_file(key, frame["timestamp"], scores[key], corpus.windows.get(key, [])))
    return out


def config_with(overrides: list[str]) -> DetectorConfig:
    """The replay's config with ``NAME=VALUE`` overrides of its score's fields (``None`` allowed)."""
    defaults = ScoreConfig()
    known = {f.name for f in fields(ScoreConfig)}
    changes: dict[str, object] = {}
    for item in overrides:
        name, _, raw = item.partition("=")
        if name not in known:
            raise SystemExit(
                f"--set {item!r}: no ScoreConfig field {name!r} (one of {', '.join(sorted(known))})"
            )
        current = getattr(defaults, name)
        changes[name] = None if raw == "None" else type(current if current is not None else 0.0)(raw)
    return replace(BACKTEST_CONFIG, score=replace(BACKTEST_CONFIG.score, **changes))  # type: ignore[arg-type]


def cells(result: dict[str, CorpusResult]) -> list[str]:
    return [f"{result[p].normalized:.1f} @ {result[p].threshold:.3f}" for p in PROFILES]


def category_table(corpus: Corpus, results: dict[str, dict[str, CorpusResult]]) -> list[str]:
    names = list(results)
    lines = ["| category | files | " + " | ".join(names) + " |", "|---|---:|" + "---:|" * len(names)]
    for category, keys in corpus.categories().items():
        row = [f"{results[n]['standard'].subset(keys):.1f}" for n in names]
        lines.append(f"| {category} | {len(keys)} | " + " | ".join(row).replace("nan", "n/a") + " |")
    return lines


def alarms(files: list[SweptFile], prefix: str, threshold: float) -> int:
    return sum(int(((f.scores >= threshold) & f.scorable).sum()) for f in files if f.name.startswith(prefix))


# The service threshold is one number for every series, so it is read off one fixed threshold for both
# corpora at once (NAB's optimiser picks one per corpus). The grid is the one the choice was made on.
SERVICE_GRID = tuple(round(0.25 + 0.025 * k, 3) for k in range(21))


def service_sweep(
    corpora: list[Corpus], mine: dict[str, list[SweptFile]]
) -> tuple[list[str], dict[float, float]]:
    """Standard-profile score of each corpus at every fixed threshold of :data:`SERVICE_GRID`, their
    total, and the artificialNoAnomaly rows at or above it: the table the service threshold is chosen
    from (see CHOICES), and the totals by threshold."""
    names = [c.name for c in corpora]
    lines = [
        "| threshold | decades | " + " | ".join(names) + " | total | artificialNoAnomaly alarms |",
        "|---:|---:|" + "---:|" * len(names) + "---:|---:|",
    ]
    totals: dict[float, float] = {}
    for t in SERVICE_GRID:
        at = {
            c.name: evaluate(mine[c.name], {"standard": c.profiles["standard"]}, thresholds={"standard": t})[
                "standard"
            ].normalized
            for c in corpora
        }
        totals[t] = sum(at.values())
        quiet = sum(alarms(mine[n], "artificialNoAnomaly", t) for n in names)
        decades = t / (1.0 - t) * ScoreConfig().scale
        lines.append(
            f"| {t:.3f} | {decades:.2f} | "
            + " | ".join(f"{at[n]:.1f}" for n in names)
            + f" | {totals[t]:.1f} | {quiet} |"
        )
    return lines, totals


def chart(table: dict[str, dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    corpora = list(table)
    detectors = sorted({d for c in table.values() for d in c}, key=lambda d: -table[corpora[0]].get(d, 0))
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.8 / len(corpora)
    for i, corpus in enumerate(corpora):
        values = [table[corpus].get(d, np.nan) for d in detectors]
        ax.bar(np.arange(len(detectors)) + i * width, values, width, label=corpus)
    ax.set_xticks(np.arange(len(detectors)) + width * (len(corpora) - 1) / 2, detectors, rotation=20)
    ax.set_ylabel("NAB score, standard profile")
    ax.set_title("Detection quality (NAB's method, threshold optimised per corpus)")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--workers", type=int, default=min(os.cpu_count() or 1, 2))
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--only", default="", help="only files whose key contains this")
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="a ScoreConfig trial"
    )
    args = parser.parse_args(argv)
    config = config_with(args.set)
    if args.set:
        args.no_write = True  # the recorded figures are always the defaults'

    corpora = [
        replace(c, windows={k: v for k, v in c.windows.items() if args.only in k})
        for c in (nab_corpus(), ms_corpus())
    ]

    started = time.perf_counter()
    ours: dict[str, dict[str, np.ndarray]] = {}
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, ProcessPoolExecutor(max_workers=args.workers) as pool:
        for corpus in corpora:
            jobs = [(k, str(corpus.path(k)), tmp, config) for k in corpus.keys]
            done = list(pool.map(run_backtest, jobs))
            ours[corpus.name] = {k: s for k, s, _ in done}
            seconds[corpus.name] = sum(t for _, _, t in done)
            print(f"replayed {len(done)} files of {corpus.name}", file=sys.stderr, flush=True)
    wall = time.perf_counter() - started

    sections: list[str] = []
    chart_table: dict[str, dict[str, float]] = {}
    all_mine: dict[str, list[SweptFile]] = {}
    for corpus in corpora:
        mine = swept(corpus, ours[corpus.name])
        all_mine[corpus.name] = mine
        baseline = swept(corpus, {k: median_mad_scores(corpus.read(k)["value"]) for k in corpus.keys})
        results = {
            "spendsentry": evaluate(mine, corpus.profiles),
            "median/MAD": evaluate(baseline, corpus.profiles),
        }
        at_service = evaluate(mine, corpus.profiles, thresholds=dict.fromkeys(PROFILES, SERVICE_THRESHOLD))
        published = {}
        if corpus.name == "NAB" and not args.only:
            official = official_scores(corpus)
            for det in REFERENCE_DETECTORS:
                files = [
                    sweep_file(k, f["timestamp"], f["anomaly_score"], corpus.windows[k])
                    for k, f in reference_results(corpus, det)
                ]
                results[det] = evaluate(files, corpus.profiles)
                published[det] = official["normalised_scores"][det]["standard"]
        lines = [
            f"### {corpus.name} ({len(corpus.keys)} files, {sum(len(corpus.windows.get(k, [])) for k in corpus.keys)} windows)",
            "",
            "| detector | standard | reward_low_FP_rate | reward_low_FN_rate |",
            "|---|---:|---:|---:|",
        ]
        for name, result in results.items():
            note = f" (NAB's official: {published[name]:.1f})" if name in published else ""
            lines.append(f"| {name}{note} | " + " | ".join(cells(result)) + " |")
        lines.append(
            f"| spendsentry at the service threshold {SERVICE_THRESHOLD} | "
            + " | ".join(cells(at_service))
            + " |"
        )
        lines += ["", "Standard profile by category:", "", *category_table(corpus, results), ""]
        if corpus.name == "NAB":
            best = results["spendsentry"]["standard"].threshold
            lines.append(
                f"Alarms on artificialNoAnomaly: {alarms(mine, 'artificialNoAnomaly', best)} at the optimised "
                f"threshold, {alarms(mine, 'artificialNoAnomaly', SERVICE_THRESHOLD)} at {SERVICE_THRESHOLD}."
            )
            lines.append("")
        lines.append(f"Replay time: {seconds[corpus.name]:.0f} s of CPU for {len(corpus.keys)} files.")
        lines.append("")
        sections += lines
        chart_table[corpus.name] = {n: r["standard"].normalized for n, r in results.items()}
    if not args.only:
        table, _ = service_sweep(corpora, all_mine)
        sections += [
            "### The service threshold: both corpora at one fixed threshold (standard profile)",
            "",
            f"The service alarms at {SERVICE_THRESHOLD} (how it was chosen: the last section). `decades` is "
            "the surprise a tail score of that threshold stands for.",
            "",
            *table,
            "",
        ]

    command = " ".join(
        [".venv/bin/python -m bench.bench_detection", *(argv if argv is not None else sys.argv[1:])]
    )
    text = "\n".join(
        [
            "# Detection quality: NAB's scoring method on the shared NAB files and Microsoft half",
            "",
            f"- Machine: {describe()}",
            f"- Command: `{command.strip()}`",
            f"- Wall time: {wall:.0f} s for the replays ({args.workers} worker processes)",
            "- Method: each file replayed by `spendsentry backtest`'s code with its defaults; `anomaly_score` "
            "scored by `bench.evaluation.nab_scorer` (NAB's method: every row at or above the threshold is a "
            "detection; the threshold NAB's optimiser picks per profile over the corpus; normalised so the null "
            "detector scores 0 and a perfect one 100). The scorer reproduces NAB's official scores of the six "
            "published detectors exactly (`tests/bench/test_nab_scorer.py`); `x @ t` is the score at threshold t.",
            "- Before this detector (same scorer, same files): NAB 50.4 standard, Microsoft 35.0.",
            "",
            *sections,
            "![detection scores](bench/results/detection.png)" if not args.no_write else "",
            "",
            "## How the score's constants were chosen (shared files only)",
            "",
            *CHOICES,
            "",
        ]
    )
    if not args.no_write:
        chart(chart_table, CHART)
    publish(text, RESULTS, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
