"""Content catalogs: hotlines, safe-route alerts, trafficking warnings."""
