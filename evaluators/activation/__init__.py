"""activation.stat, .attention, .lens, .drift, .probe: measurements of activation tensors."""
