"""Quality measures, de-identification, small-cell suppression and the export writers (CSV, Excel, PDF, FHIR)."""
