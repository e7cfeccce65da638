"""Health checks and agent checks (configuration.txt §5.2 "check", §4.2
"option httpchk", "option tcp-check", "http-check", "tcp-check").

``setup.start(config, backends, reporter)`` builds one ``Check`` per server with
``check`` (and one agent check per ``agent-check``) in a ``Scheduler`` and
starts it; the scheduler is an object any single process can run (the
control plane), results change the ``ServerRT`` state it is given.

The package imports nothing itself, so the keyword modules load without
the data plane.  Module map: ``setup`` (start), ``status`` (the status table), ``rules`` (rule sets and their
pure interpreter), ``keywords`` (tcp-check / http-check lines), ``build``
(a backend's rule set), ``protocols`` (redis, smtp rule data), ``agent``
(agent replies), ``runner`` (I/O, rise/fall, timing), ``report`` (messages).
"""
