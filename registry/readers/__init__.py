"""Readers for run artifacts: metric tables, activation tensors, text samples."""
