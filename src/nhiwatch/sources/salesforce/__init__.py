"""Salesforce: EventLogFile CSVs, Real-Time Event Monitoring objects and the Setup Audit Trail."""
