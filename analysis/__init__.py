"""Floor 2: dynamic heterogeneity and structure (imports glassdyn.data only)."""
