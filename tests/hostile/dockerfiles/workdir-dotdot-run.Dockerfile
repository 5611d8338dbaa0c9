# expect: accept (WORKDIR resolves inside the image; needs runc)
FROM base
WORKDIR ../../../../../tmp/strata-hostile-canary
RUN echo pwned > pwned
