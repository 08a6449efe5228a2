"""Read models for the pages: ward overview, patient chart data, banner, summary and the audit search."""
