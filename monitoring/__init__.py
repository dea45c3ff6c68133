"""Monitoring as outcomes arrive: realized figures, drift, recalibration, retrain advice."""
