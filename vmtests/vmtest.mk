# vmtests targets (filled in by its issue)
