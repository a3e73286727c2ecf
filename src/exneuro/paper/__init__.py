"""Paper figures declared in the config: panels placed on a grid, legends written from the
statistics table, and source data of every panel."""
