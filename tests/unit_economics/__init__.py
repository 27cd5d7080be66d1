"""Tests of unit economics: drivers, unit-cost monitoring, and the cost SLOs."""
