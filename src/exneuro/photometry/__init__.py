"""Fiber photometry: readers of every acquisition system into one tidy recording form."""
