"""One candidate: decode the genome, inherit weights, train, score (class scores too)."""
