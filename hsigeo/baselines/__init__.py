"""Baseline classifiers that users would otherwise pick (SVM, random forest, HybridSN-style CNN)."""
