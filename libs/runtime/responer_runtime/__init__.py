"""What every Responer service shares: settings, bus, relay, consumers, lifecycle, metrics, logs."""
