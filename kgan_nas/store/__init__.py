"""The run directory on disk: its files and candidate folders, the lock, atomic
writes, the cache root, the protocol card.
"""
