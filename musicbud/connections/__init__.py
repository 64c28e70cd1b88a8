"""Connections: linking a music service, its sync, and the providers behind them."""
