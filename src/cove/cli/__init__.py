"""The `cove` command line: a client of the Engine API (v1.47), docker's verbs and output.

Layout (the arrows of imports point down):

- ``main``: global options (-H, -D, -l), the verb table; each verb's module is
  imported only when that verb runs, so ``cove ps`` loads little.
- ``commands/``: one module per family -- ``containers`` (ps, stop, logs, ...),
  ``run`` (create/run/start/attach/exec: the attached streams), ``copy`` (cp),
  ``images``, ``system`` (inspect, events, version, info, login/logout).
- ``runopts``: the create/run flags and the create body they make.
- ``flags`` (pflag-style parsing), ``units`` (docker's value syntaxes and
  human-readable sizes/ages), ``gotemplate`` + ``tables`` + ``views`` (--format),
  ``progress`` (pull/push display), ``tty`` and ``attachio`` (terminal, detach
  keys, the stdio pump), ``streams`` (the 8-byte multiplexed framing).
- ``transport``: HTTP/1.1 on a unix socket, including the hijacked connection.
- ``errors``: the error kinds; ``main`` maps them to messages and exit codes.
"""
