"""Training and sweeps: jobs, the scheduler and the joblib / Dask fan-out."""
