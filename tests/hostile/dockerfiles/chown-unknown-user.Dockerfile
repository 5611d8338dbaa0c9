# expect: reject unable to find user
FROM base
COPY --chown=nosuchuser f /f
