# expect: accept (RUN sees the image, not the host; needs runc)
FROM base
RUN mkdir -p /tmp/strata-hostile-canary && echo pwned > /tmp/strata-hostile-canary/pwned
