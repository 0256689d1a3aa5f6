"""The search's pure core: genomes, the space and its repair, shapes, operators,
the recipe and conditioning genes, fitness, objectives, fidelity, Pareto fronts.

Nothing here imports TensorFlow, Keras or JAX (`tests/test_architecture.py`).
"""
