"""The node backend: a small HTTP service that trusts only the identity headers set by the edge."""
