"""Floor 4: graph datasets, the BOTAN family and baselines."""
