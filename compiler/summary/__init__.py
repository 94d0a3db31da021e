"""IR -> static size figures: parameters, MACs, activations. No torch needed."""
