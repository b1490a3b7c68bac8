"""events.precedes (one run) and events.coincide (across runs): events of step-indexed series."""
