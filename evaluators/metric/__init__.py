"""metric.threshold, metric.trend, metric.compare: step-indexed series reduced, trended, compared."""
