"""The scikit-learn stage: claim features, the multi-label classifier and its verified artifact."""
