"""``nhiwatch run``: one long-running process that collects, scores, serves and delivers.

``config`` is the validated ``nhiwatch.yaml``; ``scheduler`` the background jobs (collectors on their
schedules, alert delivery, retention) that run beside the server's scoring worker, each taking the
server's single writer for its step.
"""
