"""The four roles, as Django groups, and their predicates (django-rules)."""

import rules

COMPANY = "company"
REVIEWER = "reviewer"
STAFF = "staff"
MANAGEMENT = "management"
ROLES = (COMPANY, REVIEWER, STAFF, MANAGEMENT)

is_company_user = rules.is_group_member(COMPANY)
is_reviewer = rules.is_group_member(REVIEWER)
is_staff_officer = rules.is_group_member(STAFF)
is_management = rules.is_group_member(MANAGEMENT)
can_read_everything = is_staff_officer | is_management
