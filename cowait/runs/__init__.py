"""Runs: plan a root task from the project and the command line, follow it, and keep its record."""
