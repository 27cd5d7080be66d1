"""Detection: residual scoring, post-rules, anomaly events and root-cause ranking."""
