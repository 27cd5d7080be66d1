"""Seasonal baselines (scikit-learn estimator contract), their JSON artifacts and the model registry."""
