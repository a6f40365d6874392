"""headwater: data ingestion for machine learning (capture -> broker -> lake -> training sets)."""

__version__ = "0.1.0"
