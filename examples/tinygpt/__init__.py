"""Instrumented tiny GPT training job that produces example runs for the claims registry.

Needs the optional training dependencies (torch, safetensors); nothing in the core imports it.
"""
