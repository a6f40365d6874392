"""`headwater demo`: the whole platform end to end on one machine (`run.py`), and the broker-only
streaming check (`broker_check.py`)."""
