"""Commit (detect → plan → build → verify → **commit** → report): the store of generations behind one link
swapped atomically, what a generation holds and shares with others, and whether a re-run has nothing to do."""
