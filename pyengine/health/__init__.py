"""Health checks on the controller side: thresholds from variables, trends and new ports
from the run history, state changes for the alerts (the checks run in modules/health.py)."""
