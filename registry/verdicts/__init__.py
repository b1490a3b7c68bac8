"""Verdicts: the model (`model`), the verdict file (`file`: render, atomic write, full and header-only
read), and the engine that turns claims x runs into verdicts (`engine`)."""
