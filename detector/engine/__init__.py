"""Training machinery shared by every trainer: processes, sampling, EMA, schedules, metrics."""
