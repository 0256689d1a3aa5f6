"""The final stage: which genomes and seeds to retrain, and one final training job."""
