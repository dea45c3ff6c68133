"""The judging and explaining DVC stages, one module each: evaluate, backtest, explain, compare."""
