"""Reading a run back: the one ranking, best and Pareto front, `SearchResult`, and
the final stage's summary.
"""
