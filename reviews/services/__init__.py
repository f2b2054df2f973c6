"""Every write of the back office (DESIGN rules 1 and 2), one module per subject:

- `pool`: the reviewer pool and declared relations (conflicts of interest);
- `assignments`: assigning reviewers by hand or automatically, recusal and re-assignment;
- `scoring`: scorecards, blind reviews and the aggregate per application;
- `decisions`: approvals within the annual quota and the caps, rank-and-fill, the reserve list;
- `publicity`: 公示, objections and finalizing the awards;
- `payments`: disbursements of an award;
- `calendar`: loading the holiday calendar that times the 公示.

Callers import the module they need: `from reviews.services import decisions`.
"""
