"""Floor 3: generative samplers of configurations (imports data, simulate, analysis)."""
