"""`make bench`: the saga's figures on this machine, through local mode (real PostgreSQL, moto, the real handlers).

Run with `python -m bench` (see `bench/run.py` for the flags); results go to `bench/results/latest.json`
and `bench/results/latest.md`.
"""
