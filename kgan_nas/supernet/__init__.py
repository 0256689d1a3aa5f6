"""Gradient-based architecture search: a supernet of the space, trained once.

`network` builds a generator and a discriminator whose layer slots mix the
space's candidate operations by softmax-weighted architecture parameters;
`search` trains it as a GAN, reads the weights and derives genomes, which
`DifferentiableSearch` (`strategy="differentiable"`) then evaluates first,
as ordinary candidates. Needs Keras.
"""
