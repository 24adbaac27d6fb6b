"""The downstream-lift protocol: classifiers on real rows they never trained on, paired lifts and intervals."""
