"""The search's orchestration: run settings, the inputs workers share, the generation
loop, signals, and the conditional set-up.
"""
