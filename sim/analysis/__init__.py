"""Statistics over simulation results: intervals, quantiles, survival."""
