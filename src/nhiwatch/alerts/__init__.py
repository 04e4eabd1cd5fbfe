"""The alert stage: findings grouped into episodes, scored 0–100, graded, suppressed, explained and triaged.

``build`` turns findings into :class:`~nhiwatch.alerts.model.Alert` records (``group`` → ``score`` →
``explain`` with ``references``); ``suppress`` holds people's rules and ``triage`` analysts' verdicts;
``tables`` owns the ``alerts``, ``triage_log``, ``allowances``, ``suppressions`` and ``detection_runs``
tables; ``config`` the strict YAML configuration (``default.yaml`` ships in the package).
"""
