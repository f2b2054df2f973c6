"""Management reports (dashboards and exports) read the other apps; models arrive with them."""
