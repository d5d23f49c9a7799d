"""Dense-vs-sparse experiments on real data and the claims table: ``actsparse study``."""
