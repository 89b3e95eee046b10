"""Statistics over results: summaries with confidence intervals (summary), warnings with remedies (advice),
configurations (config) and comparisons (compare)."""
