"""Alert severities, least to most urgent: one vocabulary for the rules, the thresholds file and the pages."""

SEVERITIES = ("info", "warning", "urgent", "emergency")
SEVERITY_RANK = {name: i for i, name in enumerate(SEVERITIES)}
