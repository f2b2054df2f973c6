"""The reports' pages (/reports/): the dashboard (dashboard.py); the exports add theirs beside."""
