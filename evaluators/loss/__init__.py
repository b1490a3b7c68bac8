"""loss.spikes: spikes in a loss curve."""
