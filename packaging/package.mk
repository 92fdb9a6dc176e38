# packaging targets (filled in by its issue)
