# units targets (filled in by its issue)
