"""Instrumented modular-addition transformer whose runs have loss spikes nobody injected ("slingshot"
cycles), recorded for the claims registry.  Needs torch and safetensors; nothing in the core imports it.
"""
